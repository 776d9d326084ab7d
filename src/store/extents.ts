import { createRequire } from 'node:module';

interface NativeExtents {
  dataRanges(fd: number, start: number, end: number): number[] | null;
}

/** Where a file holds data within a range, and how long the file is. */
export interface DataMap {
  size: number;
  /** Sorted, disjoint `[start, end)` ranges within the range asked for and the file. */
  ranges: Array<[number, number]>;
}

let native: NativeExtents | null | undefined;

/**
 * The native helper (native/extents.c) is optional: built when a C compiler
 * is at hand. Without it every byte is read, holes included.
 */
function load(): NativeExtents | null {
  if (native !== undefined) return native;
  try {
    const require = createRequire(import.meta.url);
    native = require(new URL('../../native/extents.node', import.meta.url).pathname) as NativeExtents;
  } catch {
    native = null;
  }
  return native;
}

export function nativeExtentsAvailable(): boolean {
  return load() !== null;
}

/**
 * The data ranges of an open file within `[start, end)`, from SEEK_DATA and
 * SEEK_HOLE; null when they are unknown (no helper, a pipe, a filesystem
 * that cannot tell), and everything must be read.
 */
export function dataRanges(fd: number, start: number, end: number): DataMap | null {
  const flat = load()?.dataRanges(fd, start, end) ?? null;
  if (!flat) return null;
  const ranges: Array<[number, number]> = [];
  for (let i = 1; i + 1 < flat.length; i += 2) ranges.push([flat[i]!, flat[i + 1]!]);
  return { size: flat[0]!, ranges };
}
