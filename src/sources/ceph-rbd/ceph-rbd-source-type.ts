import { z } from 'zod';
import { BackyError } from '../../util/errors.js';
import type { SourceType } from '../registry.js';
import { cephName, parsePoolImage } from './rbd-names.js';

export const cephRbdSourceConfig = z
  .object({
    type: z.literal('ceph-rbd'),
    pool: cephName('pool'),
    image: cephName('image'),
  })
  .strict();

export type CephRbdSourceConfig = z.infer<typeof cephRbdSourceConfig>;

const syntax = 'backy init ceph-rbd POOL/IMAGE';

export const cephRbdSourceType: SourceType<CephRbdSourceConfig> = {
  name: 'ceph-rbd',
  initSyntax: syntax,
  schema: cephRbdSourceConfig,
  fromInitArgument(argument) {
    const config = { type: 'ceph-rbd' as const, ...parsePoolImage(argument, syntax) };
    cephRbdSourceConfig.parse(config);
    return config;
  },
  create() {
    throw new BackyError('the ceph-rbd source is not available in this build yet');
  },
};
