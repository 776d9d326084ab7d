import type { ImageWriter } from '../io/image.js';
import type { HashRecord, RecordedHashes } from '../integrity/hash-record.js';
import type { Logger } from '../util/logger.js';
import type { Dirent } from 'node:fs';

/**
 * The entries of a directory as one read found them: a command reads the
 * job directory once (10,000 revisions are 20,000 entries) and hands the
 * listing to the stores, which read for themselves where it is of another
 * directory than theirs.
 */
export interface DirectoryListing {
  readonly path: string;
  readonly entries: readonly Dirent[];
}

/**
 * How a new revision's data began: `reflink`, sharing every block with its
 * parent's; `copy`, empty because the filesystem cannot share (the source
 * is written whole); `empty`, a first (or full) backup; `chunks`, naming
 * every chunk its parent's index names (a chunked store).
 */
export type CloneMethod = 'reflink' | 'copy' | 'empty' | 'chunks';

/** What a store records about a revision's data once it is complete (goes into the `.rev`). */
export interface CommittedData {
  hashes: RecordedHashes;
  /** Figures of the store's own for the revision's stats (a chunked store: what it added to the pool). */
  stats?: Record<string, number>;
}

/**
 * A new revision's data while its backup runs. The source writes through
 * the ImageWriter side; the job then flushes (`sync`), has the source
 * verify through `reader()`, and either commits or aborts. Nothing of a
 * revision that was not committed may ever be read as a revision.
 */
export interface RevisionWriter extends ImageWriter {
  readonly clone: CloneMethod;
  /**
   * Completes the data: records its block hashes (from the bytes the
   * source handed over, and the parent's for blocks kept), flushes them
   * and makes the data read-only.
   */
  commit(): Promise<CommittedData>;
  /** Releases open files; after a failed backup the job then removes the revision. */
  close(): Promise<void>;
}

/**
 * Random access to a complete revision's data. Every method may be called
 * again before an earlier call has settled (restores read ahead, the NBD
 * server serves several clients from one reader).
 */
export interface RevisionReader {
  readonly size: number;
  /**
   * True where `read` itself proves every block it returns against the
   * revision's recorded hash, failing with a DamageError (a chunked store
   * reads each block from the chunk its entry names and checks the chunk's
   * SHA-256): a caller holding the proven record need not hash again.
   */
  readonly provesReads?: boolean;
  /** Reads up to `length` bytes at `position`; fewer only at the end of the data. */
  read(buffer: Buffer, length: number, position: number): Promise<number>;
  /**
   * The sorted, disjoint ranges within [start, end) that may hold data;
   * everything outside them reads as zeros, so a copy can skip it.
   */
  dataRanges(start: number, end: number): Promise<Array<[number, number]>>;
  /**
   * The revision's recorded block hashes, proven against `recorded` (from
   * its `.rev`): a HashRecordError when the record is missing or damaged.
   */
  hashes(recorded: RecordedHashes): Promise<HashRecord>;
  close(): Promise<void>;
}

/** What a store can tell about a revision's data without reading it. */
export type DataState =
  /** `allocated`: bytes the data takes on disk, shared ones included (an upper bound of what removing it frees). */
  | { state: 'present'; size: number; allocated: number }
  | { state: 'missing' }
  | { state: 'unreadable'; reason: string };

/** A store's failure to give a revision's data, with what the user should know. */
export class StoreError extends Error {
  constructor(
    message: string,
    readonly code: 'missing' | 'unreadable',
  ) {
    super(message);
  }
}

/**
 * Reading the parent's data failed while a new revision was made from it
 * (an I/O error, a file gone): the revision cannot be made that way, but a
 * full backup from the source can.
 */
export class ParentUnreadableError extends Error {
  constructor(
    readonly parent: string,
    cause: unknown,
  ) {
    super(`the data of parent revision ${parent} cannot be read: ${(cause as Error).message ?? String(cause)}`, { cause });
  }
}

/**
 * How a job's revisions' data is kept. The job directory keeps the
 * metadata (`.rev` files, tags, the `last` links, the lock); a store keeps
 * the bytes and their hashes, and nothing else touches them. Every store
 * passes the conformance suite in test/store/.
 */
export interface Store {
  /** The name a job's `config` selects it by (`store: cow`). */
  readonly name: string;
  /**
   * Starts a new revision's data: a copy of the parent's (sharing blocks
   * where it can) or, without a parent, empty. Fails if data for `id`
   * exists already (a second writer).
   */
  create(id: string, parent: { id: string; hashes: RecordedHashes | null } | null, logger: Logger): Promise<RevisionWriter>;
  /** Opens a committed revision's data; a StoreError when it is missing or unreadable. */
  open(id: string): Promise<RevisionReader>;
  /** Whether the revision's data is there and readable, its size and the space it takes. */
  stat(id: string): Promise<DataState>;
  /**
   * Records block hashes for a committed revision that has none (made before
   * backy recorded them): `hash` fills the record from the data as read now.
   */
  recordHashes(id: string, size: number, fill: (record: HashRecordSink) => Promise<void>): Promise<RecordedHashes>;
  /** Removes the revision's data, and whatever a killed write left of it; data already gone is fine. */
  remove(id: string): Promise<void>;
  /** IDs with any data or leftovers in the store, complete or not, in no particular order. */
  list(listing?: DirectoryListing): Promise<string[]>;
  /** IDs whose data is there to be read (as `stat` would say `present`), found at once for a whole job. */
  present(listing?: DirectoryListing): Promise<Set<string>>;
  /**
   * Only for stores whose revisions are plain image files: the file, for
   * `find`, reflink restores and mounting it by hand.
   */
  filePath?(id: string): string;
  /**
   * Of `ids`, the revisions whose data the store has found damaged since
   * (a chunk they share with a revision that was read failed its hash):
   * to be distrusted before a backup chooses its parent. Stores that share
   * nothing between revisions have none.
   */
  damagedRevisions?(ids: readonly string[]): Promise<string[]>;
}

/** Where `recordHashes` takes the entries of consecutive blocks. */
export interface HashRecordSink {
  write(firstBlock: number, entries: Buffer): Promise<void>;
  readonly blockSize: number;
}
