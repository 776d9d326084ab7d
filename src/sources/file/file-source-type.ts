import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { BackyError } from '../../util/errors.js';
import type { SourceType } from '../registry.js';
import { FileSource } from './file-source.js';

export const fileSourceConfig = z
  .object({
    type: z.literal('file'),
    filename: z.string({ error: 'expected the path of the source file' }).min(1, 'must not be empty'),
    /**
     * `checksum` (default): where the image is written past the page cache,
     * compare the re-read source with checksums of what was written and read
     * back only a sample; `full`: read every byte of the image back.
     */
    verify: z.enum(['checksum', 'full'], { error: 'expected "checksum" or "full"' }).optional(),
  })
  .strict();

export type FileSourceConfig = z.infer<typeof fileSourceConfig>;

export const fileSourceType: SourceType<FileSourceConfig> = {
  name: 'file',
  initSyntax: 'backy init file FILENAME',
  schema: fileSourceConfig,
  fromInitArgument(argument) {
    if (argument.trim().length === 0) throw new BackyError('init file: FILENAME must not be empty');
    // The job may later run from another working directory (the scheduler).
    const filename = isAbsolute(argument) ? argument : resolve(argument);
    return { type: 'file', filename };
  },
  create: (config) => new FileSource(config.filename, { verify: config.verify ?? 'checksum' }),
};
