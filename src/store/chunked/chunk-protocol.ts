/** The messages between the chunk pool's workers (chunk-worker.ts) and the main thread (chunk-workers.ts). */
export type ChunkRequest =
  /**
   * Hash the blocks of [byteOffset, byteOffset + length) of `memory`;
   * those whose entry differs from `base` (the entries the revision holds
   * for them now) and hold data are made sure to be in the pool.
   */
  | { op: 'put'; id: number; writer: string; pool: string; memory: SharedArrayBuffer; byteOffset: number; length: number; blockSize: number; base: Uint8Array }
  /** Set aside the writer's written chunks for the next flush; replies with their count. */
  | { op: 'seal'; id: number; writer: string }
  /** Flush the pool's filesystem (syncfs); replies whether it could (the native helper is there). */
  | { op: 'sync'; id: number; pool: string }
  /** Rename the sealed chunks into place (each flushed first unless `synced`). */
  | { op: 'rename'; id: number; writer: string; synced: boolean }
  /** Flush the names in the pool's chunk directories. */
  | { op: 'sync-names'; id: number; pool: string }
  /** The writer is done: forget it, and remove chunks it never got to rename. */
  | { op: 'forget'; id: number; writer: string }
  /** Read each chunk `name` into [at, at + length) of `memory`, proving it against its name (no chunk of the pool holds more than `chunkSize` bytes). */
  | { op: 'read'; id: number; pool: string; chunkSize: number; memory: SharedArrayBuffer; blocks: Array<{ at: number; length: number; name: string }> };

export interface PutReply {
  id: number;
  /** The blocks' entries (SHA-256, zeros for zero blocks). */
  entries: Buffer;
  /** Bytes of the blocks whose entry changed. */
  changedBytes: number;
  /** Chunks written to the pool (the others were there) and their bytes on disk. */
  newChunks: number;
  storedBytes: number;
}

export type ChunkFailure = 'missing' | 'damaged' | 'other-length';

export interface ReadReply {
  id: number;
  /**
   * Blocks (by index in the request) that could not be read as their name
   * says; 'other-length' where the chunk is sound but holds a block of
   * another length than the one asked for (the index naming it is wrong).
   */
  failed: Array<{ index: number; kind: ChunkFailure }>;
}
