import { CORE_SCHEMA, load } from 'js-yaml';
import { StatusFormatError, statusFromData } from '../scheduler/status-file.js';
import type { StatusSnapshot } from '../scheduler/status-model.js';
import { readFileBounded } from './bounded-read.js';

export { FileKindError as StatusFileKindError } from './bounded-read.js';

/**
 * More than any scheduler writes (about 20,000 jobs): a bigger file is not
 * a status file, and parsing it could keep `check` past its deadline.
 */
export const MAX_STATUS_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Reads the scheduler's status file for `backy check`, with the same strict
 * validation as `readStatusFile`. Only a regular file of a sane size is
 * read, in a process of its own (bounded-read.ts): a FIFO would block the
 * read for ever, a device might never end, a hung disk would hold up
 * `check`'s exit. js-yaml parses the file of 1,000 jobs (~320 KB) in a
 * fifth of the time the `yaml` package takes; the core schema reads YAML
 * 1.2 as the writer wrote it (ISO times stay strings).
 */
export async function readStatusForCheck(path: string, signal?: AbortSignal): Promise<StatusSnapshot> {
  const text = await readFileBounded(path, MAX_STATUS_FILE_BYTES, signal);
  if (text.trim().length === 0) throw new StatusFormatError('the file is empty');
  let data: unknown;
  try {
    data = load(text, { schema: CORE_SCHEMA });
  } catch (err) {
    throw new StatusFormatError(`invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  refuseSharedNodes(data);
  return statusFromData(data);
}

/**
 * js-yaml gives an alias the very object its anchor names, and the decoding
 * copies an object once for every path to it: nine levels of ten aliases
 * each, a file of 500 bytes, held `check` on one CPU until it ran out of
 * memory, past its deadline (a timer cannot fire while the loop is busy).
 * The scheduler writes no aliases, so a collection reached twice is refused.
 */
function refuseSharedNodes(data: unknown): void {
  const seen = new Set<object>();
  const pending: unknown[] = [data];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value === null || typeof value !== 'object') continue;
    if (seen.has(value)) throw new StatusFormatError('it uses YAML aliases (the scheduler writes none)');
    seen.add(value);
    for (const item of Object.values(value)) pending.push(item);
  }
}
