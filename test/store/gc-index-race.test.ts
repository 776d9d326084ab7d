/**
 * A garbage collection that reads a backup's index while it is still being
 * copied from its parent's, and finds the parent gone after the backup
 * (retention removed it): the chunks the new revision took over from its
 * parent are named only by the new index, which must be read again whole.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY_LENGTH } from '../../src/integrity/block-hash.js';
import { HEADER_LENGTH, recordHeader } from '../../src/integrity/hash-record.js';
import { ChunkPool } from '../../src/store/chunked/chunk-pool.js';
import { collectGarbage } from '../../src/store/chunked/garbage-collection.js';
import { chunkPath } from '../../src/store/chunked/pool-layout.js';
import { silentLogger } from '../../src/util/logger.js';

const BLOCK = 64 * 1024;

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'backy-gc-race-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Whether this process has the file open. */
function openHere(path: string): boolean {
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile
    }
  });
}

function index(path: string, names: Buffer[]): void {
  writeFileSync(path, Buffer.concat([recordHeader(BLOCK, names.length * BLOCK), ...names]));
}

it("keeps the chunks a new revision inherited when its index was read half-copied and its parent's is gone after", async () => {
  const pool = await ChunkPool.open(join(root, 'pool'), { create: true });
  const block = randomBytes(BLOCK);
  const name = createHash('sha256').update(block).digest();
  const chunk = chunkPath(pool.path, name.toString('hex'));
  writeFileSync(chunk, block);
  utimesSync(chunk, new Date(0), new Date(0));

  // Read in this order: the new index (so far its header), then another
  // job's large one, while which the backup completes and its parent goes.
  const [newJob, otherJob, parentJob] = ['new', 'other', 'parent'].map((dir) => join(root, dir));
  for (const dir of [newJob, otherJob, parentJob]) mkdirSync(dir);
  const parent = join(parentJob, 'parent.index');
  const child = join(newJob, 'child.index');
  index(parent, [name]);
  writeFileSync(child, recordHeader(BLOCK, BLOCK));
  const large = join(otherJob, 'large.index');
  writeFileSync(large, recordHeader(BLOCK, 0));
  // Under a million entries: one pass over all stripes.
  truncateSync(large, HEADER_LENGTH + 900 * 1024 * ENTRY_LENGTH);

  let listings = 0;
  let copied = false;
  let watch: NodeJS.Timeout | undefined;
  const roots = async () => {
    // The second listing starts the marking, one index after the other: once the large one is open, the
    // child's has been read and the parent's is still to come, however fast this machine is today.
    if (++listings === 2) {
      watch = setInterval(() => {
        if (!openHere(large)) return;
        clearInterval(watch);
        index(child, [name]);
        rmSync(parent);
        copied = true;
      }, 1);
    }
    return [newJob, otherJob, parentJob];
  };
  const outcome = await collectGarbage(pool, roots, silentLogger).finally(() => clearInterval(watch));
  assert.ok(copied);
  assert.ok(existsSync(chunk), `the inherited chunk was deleted (${JSON.stringify(outcome)})`);
  assert.equal(outcome.indexesRead, 3, 'the new index, the large one, then the new one again');
});
