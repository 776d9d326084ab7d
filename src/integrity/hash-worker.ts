import { parentPort } from 'node:worker_threads';
import { hashBlocksHere } from './block-hash.js';

/** One thread of the hash pool: entries for the blocks of a shared buffer. */
export interface HashRequest {
  id: number;
  memory: SharedArrayBuffer;
  byteOffset: number;
  length: number;
  blockSize: number;
}

parentPort?.on('message', (request: HashRequest) => {
  const data = Buffer.from(request.memory, request.byteOffset, request.length);
  const entries = hashBlocksHere(data, request.blockSize);
  // Buffer.alloc gives the entries an ArrayBuffer of their own: moved, not copied.
  parentPort!.postMessage({ id: request.id, entries }, [entries.buffer as ArrayBuffer]);
});
