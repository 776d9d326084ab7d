import type { Revision } from '../job/revision.js';
import type { ImageReader, ImageWriter } from '../io/image.js';
import type { Logger } from '../util/logger.js';

export type ProgressPhase = 'backup' | 'verify' | 'restore';

/** The engine reports progress; only the CLI decides how to show it. */
export type ProgressListener = (phase: ProgressPhase, done: number, total: number) => void;

/** What a source gets for one backup. */
export interface BackupContext {
  /** The revision being created. */
  revision: Revision;
  /** The newest complete revision, whose image the new one was copied from. */
  parent: Revision | null;
  logger: Logger;
  /** Aborted on SIGTERM/SIGINT: stop soon and throw. */
  signal: AbortSignal;
  onProgress: ProgressListener;
}

export interface VerificationResult {
  /**
   * `full`: every byte compared; `sample`: a random sample of blocks;
   * `checksum`: every byte of the source compared, with checksums of what
   * was written where the image would have to be read back from the disk,
   * and a sample of those read back all the same.
   */
  kind: 'full' | 'sample' | 'checksum';
  bytesVerified: number;
  /** Of a `checksum` verification: bytes of the image read (the rest compared by checksum). */
  bytesReadBack?: number;
  [key: string]: unknown;
}

/**
 * One backup in progress. The job runs, in this order: `transfer`, then
 * (after the image was flushed) `verify`, then always `finish` — also when
 * an earlier step failed, so that a source can release snapshots.
 */
export interface SourceBackup {
  /** The source's size in bytes for this backup; the image is resized to it. */
  readonly size: number;
  /**
   * Makes the image (which holds the parent's content, or nothing) equal to
   * the source, through the writer, which skips unchanged blocks.
   */
  transfer(writer: ImageWriter): Promise<Record<string, unknown>>;
  /**
   * Compares the finished image, read through `image`, with the source;
   * throws on any difference.
   */
  verify(image: ImageReader): Promise<VerificationResult>;
  /** Releases what the backup held (snapshots, handles). */
  finish(outcome: { success: boolean }): Promise<void>;
}

/** A configured source: one job's `config`, validated. */
export interface Source {
  /** One line for logs: `file /srv/vm/disk.img`. */
  describe(): string;
  /** Checks the source is reachable and begins a backup (e.g. takes a snapshot). */
  begin(context: BackupContext): Promise<SourceBackup>;
}
