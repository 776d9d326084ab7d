import type { z } from 'zod';
import { BackyError } from '../util/errors.js';
import { formatSchemaIssues } from '../util/schema-errors.js';
import type { Source } from './source.js';
import { fileSourceType } from './file/file-source-type.js';
import { cephRbdSourceType } from './ceph-rbd/ceph-rbd-source-type.js';
import { flyingCircusSourceType } from './flyingcircus/flyingcircus-source-type.js';

/** A kind of source, selected by the `type` key of a job's configuration. */
export interface SourceType<Config extends { type: string }> {
  readonly name: string;
  /** Synopsis of `backy init NAME SOURCE` for help and errors. */
  readonly initSyntax: string;
  /** Validates the configuration (with `type`). */
  readonly schema: z.ZodType<Config>;
  /** Turns the SOURCE argument of `backy init` into a configuration. */
  fromInitArgument(argument: string): Config;
  create(config: Config): Source;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const SOURCE_TYPES: ReadonlyArray<SourceType<any>> = [fileSourceType, cephRbdSourceType, flyingCircusSourceType];

export function sourceTypeNames(): string[] {
  return SOURCE_TYPES.map((t) => t.name);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function findSourceType(name: unknown): SourceType<any> {
  const found = SOURCE_TYPES.find((t) => t.name === name);
  if (found) return found;
  const shown = typeof name === 'string' ? JSON.stringify(name) : String(name);
  const hint =
    typeof name === 'string' && SOURCE_TYPES.some((t) => t.name === name.replace(/[,;\s]+$/, ''))
      ? ` (did you mean "${name.replace(/[,;\s]+$/, '')}"? remove the trailing "${name.slice(name.replace(/[,;\s]+$/, '').length)}")`
      : '';
  throw new BackyError(`unknown source type ${shown}${hint}; known types: ${sourceTypeNames().join(', ')}`);
}

/**
 * Validates a raw source configuration; returns problems as lines naming
 * the key (`filename: expected a string`) rather than throwing, so the
 * scheduler can report every problem of a file at once.
 */
export function validateSourceConfig(raw: unknown): { config?: { type: string }; problems: string[] } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return { problems: ['expected a mapping with "type" and the source\'s parameters'] };
  }
  const record = raw as Record<string, unknown>;
  if (record.type === undefined) return { problems: [`type: missing (one of ${sourceTypeNames().join(', ')})`] };
  let type;
  try {
    type = findSourceType(record.type);
  } catch (err) {
    return { problems: [`type: ${(err as Error).message}`] };
  }
  const result = type.schema.safeParse(record);
  if (!result.success) return { problems: formatSchemaIssues(result.error.issues) };
  return { config: result.data as { type: string }, problems: [] };
}

/** Creates the source for a job configuration; a bad configuration is a one-line error. */
export function createSource(raw: Record<string, unknown>, where: string): Source {
  const { config, problems } = validateSourceConfig(raw);
  if (!config) throw new BackyError(`${where}: ${problems.join('; ')}`);
  return findSourceType(config.type).create(config);
}
