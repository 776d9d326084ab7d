/**
 * The two sides of an image that sources and stores meet on: a store hands
 * a source an ImageWriter to fill and reads the result back through an
 * ImageReader for verification.
 */

/** Random access to an image's bytes. */
export interface ImageReader {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into the start of `buffer`; returns the count. */
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  /**
   * The checksum (see chunk-checksums.ts) of what was written at exactly
   * [position, position + length), where the writer kept one: comparing it
   * spares reading an image written past the page cache back from the disk.
   */
  writtenChecksum?(position: number, length: number): bigint | undefined;
}

/**
 * Where a new revision's bytes go. `write` compares with the parent's
 * content (which the new image starts out as) and writes only the blocks
 * that differ; all-zero blocks become holes. Offsets are absolute.
 */
export interface ImageWriter {
  /** Current logical size of the image. */
  readonly size: number;
  /**
   * Whether the image starts out holding the parent's content (a reflink
   * clone), so that writing the changes since the parent is enough. When
   * false it starts empty and the source must write everything.
   */
  readonly holdsParent: boolean;
  /** Grows (with a hole) or shrinks the image to the source's size. */
  resize(size: number): Promise<void>;
  /**
   * Makes [offset, offset + data.length) hold `data`, touching only
   * differing blocks. `data` may be reused by the caller once the promise
   * settles, not before.
   */
  write(offset: number, data: Buffer): Promise<void>;
  /**
   * Like `write`, without comparing: for data the source knows has changed
   * (an RBD diff), where reading the parent's blocks at random to compare
   * would cost more than it saves. All-zero blocks still become holes.
   */
  overwrite(offset: number, data: Buffer): Promise<void>;
  /** Makes [offset, offset + length) read as zeros, as a hole where possible. */
  zero(offset: number, length: number): Promise<void>;
  /** Bytes actually written and punched so far. */
  stats(): WriterStats;
  /** Flushes written data to stable storage. */
  sync(): Promise<void>;
  /**
   * Reads the image as it now is, for verification: ranges this backup
   * changed from the new image itself, ranges it shares with the parent
   * from the parent's image, whose pages the comparison already cached.
   */
  reader(): ImageReader;
}

export interface WriterStats {
  bytesWritten: number;
  bytesPunched: number;
  bytesCompared: number;
}
