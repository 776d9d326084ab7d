/** A part of a read: bytes in a pool buffer, or a run that reads as zeros. */
export interface Piece {
  offset: number;
  length: number;
  /** Null where the image reads as zeros (a hole). */
  data: Buffer | null;
}

/** A run of the image from where a status query started, in order. */
export interface Extent {
  length: number;
  /** Reads as zeros and holds no data (a hole in the revision, not written over). */
  hole: boolean;
}

/**
 * What a server exports: a revision, read through the checks of its
 * recorded hashes, and with `--writable` an overlay that takes the writes.
 * Reads work in windows: a range within one window of `window` bytes (as
 * aligned in the image) fits one pool buffer, which holds the window.
 */
export interface ExportedImage {
  readonly size: number;
  readonly writable: boolean;
  readonly window: number;
  /**
   * The pieces of [offset, offset + length), which lies within one window,
   * read into `buffer` at the window's offsets. A block that does not
   * match its recorded hash is a DamageError: never its bytes.
   */
  readWindow(offset: number, length: number, buffer: Buffer): Promise<Piece[]>;
  /** At most `limit` extents from `offset`, covering no more than [offset, offset + length). */
  extents(offset: number, length: number, limit: number): Promise<Extent[]>;
  write(offset: number, data: Buffer): Promise<void>;
  /** Makes [offset, offset + length) read as zeros; `allocate` (NBD_CMD_FLAG_NO_HOLE) forbids a hole there. */
  zero(offset: number, length: number, allocate: boolean): Promise<void>;
  flush(): Promise<void>;
}

/** Where a window starts and where the range's part in it ends. */
export function windowOf(image: Pick<ExportedImage, 'window'>, offset: number): number {
  return Math.floor(offset / image.window) * image.window;
}

/** Extents of [start, end) from sorted, disjoint data ranges within it, at most `limit` of them. */
export function extentsFromRanges(ranges: ReadonlyArray<readonly [number, number]>, start: number, end: number, limit: number): Extent[] {
  const extents: Extent[] = [];
  let at = start;
  const push = (length: number, hole: boolean) => {
    const last = extents.at(-1);
    if (last && last.hole === hole) last.length += length;
    else extents.push({ length, hole });
  };
  for (const [from, to] of ranges) {
    if (extents.length > limit) break;
    const a = Math.max(from, at);
    const b = Math.min(to, end);
    if (b <= a) continue;
    if (a > at) push(a - at, true);
    push(b - a, false);
    at = b;
  }
  if (at < end && extents.length <= limit) push(end - at, true);
  return extents.slice(0, limit);
}
