import { z } from 'zod';
import { BackyError } from '../../util/errors.js';

/** Ceph pool and image names as `rbd` accepts them without quoting surprises; a leading "-" it would take for an option. */
const NAME = /^[A-Za-z0-9_.+][A-Za-z0-9_.+-]*$/;

export function cephName(what: string) {
  return z
    .string({ error: `expected the ${what} name` })
    .min(1, 'must not be empty')
    .refine((value) => !/[,;\s]$/.test(value), { message: 'has a trailing comma or blank; remove it' })
    .refine((value) => NAME.test(value), { message: `is not a valid ${what} name (letters, digits, "_", ".", "+", "-", not starting with "-")` });
}

/** Parses `POOL/IMAGE`. */
export function parsePoolImage(argument: string, syntax: string): { pool: string; image: string } {
  const match = /^([^/\s]+)\/([^/\s@]+)$/.exec(argument.trim());
  if (!match) throw new BackyError(`invalid SOURCE ${JSON.stringify(argument)}: expected POOL/IMAGE (${syntax})`);
  return { pool: match[1]!, image: match[2]! };
}

/** Validates what `backy init` made of SOURCE; the first problem as one line. */
export function checkInitConfig<T>(schema: z.ZodType<T>, config: T, argument: string): T {
  const checked = schema.safeParse(config);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new BackyError(`invalid SOURCE ${JSON.stringify(argument)}: ${issue.path.join('.')} ${issue.message}`);
  }
  return config;
}
