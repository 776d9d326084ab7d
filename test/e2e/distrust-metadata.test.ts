/**
 * A backup that distrusts revisions sharing a damaged chunk rewrites their
 * `.rev` files while a `verify` may be noting its own outcome in them (verify
 * takes only the metadata lock, not the job's): the backup must wait for
 * that lock and change only the trust, never write back the copy it read
 * before.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { readRevisionYaml, revisionIds, waitUntil, writeAt } from '../helpers/job-files.js';
import { distrustDamaged } from '../../src/job/damage.js';
import { JobDirectory, METADATA_LOCK_FILE } from '../../src/job/job-directory.js';
import { readRevisionFile, writeRevisionFile } from '../../src/job/revision.js';
import { silentLogger } from '../../src/util/logger.js';

const BLOCK = 64 * 1024;

/** Whether a process is blocked waiting for a lock on `path` (a `->` line of /proc/locks naming its device and inode). */
function lockWaitedFor(path: string): boolean {
  const { dev, ino } = statSync(path);
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  const id = `${hex((dev >> 8) & 0xfff)}:${hex((dev & 0xff) | ((dev >> 12) & 0xfff00))}:${ino}`;
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => / -> /.test(line) && line.split(/\s+/).includes(id));
}

function ok(args: string[]): void {
  const result = backy(args);
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
}

describe('distrusting revisions that share a damaged chunk', () => {
  let dir: string;
  let job: string;
  let older: string;
  let newer: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backy-distrust-'));
    job = join(dir, 'job');
    const source = join(dir, 'vm.img');
    writeFileSync(source, randomBytes(8 * BLOCK));
    ok(['-b', job, 'init', '--store', 'chunked', 'file', source]);
    ok(['-b', job, 'backup', 'daily']);
    ok(['-b', job, 'backup', 'daily']);
    const ids = revisionIds(job).sort((a, b) => Date.parse(String(readRevisionYaml(job, a).timestamp)) - Date.parse(String(readRevisionYaml(job, b).timestamp)));
    [older, newer] = ids as [string, string];
    // Both revisions name the same chunks; one of them is damaged and found by verifying the older revision.
    const stripes = join(job, 'chunks', 'chunks');
    const name = readFileSync(join(job, `${older}.index`)).subarray(32 + 3 * 32, 32 + 4 * 32).toString('hex');
    assert.ok(readdirSync(join(stripes, name.slice(0, 2))).includes(name));
    writeAt(join(stripes, name.slice(0, 2), name), 10, Buffer.from('damage'));
    assert.equal(backy(['-b', job, 'verify', '-r', older]).status, 1);
    assert.equal(readRevisionYaml(job, newer).trust ?? 'trusted', 'trusted');
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('waits for the metadata lock and keeps what a verify noted after the scan', async () => {
    const directory = new JobDirectory(job);
    const scan = await directory.scan(silentLogger);
    const store = await directory.store();

    // A verify notes its outcome in the newer revision after the backup's scan, and still holds the lock.
    const lock = await directory.metadataLock();
    const noted = await readRevisionFile(directory.revisionPath(newer), newer);
    noted.verified = new Date('2026-01-02T03:04:05Z');
    await writeRevisionFile(directory.revisionPath(newer), noted);
    const distrusting = distrustDamaged(directory, scan, store, silentLogger);
    // Until it is seen waiting for the lock, nothing written yet would prove nothing.
    await waitUntil(() => lockWaitedFor(join(job, METADATA_LOCK_FILE)), 'the backup to wait for the metadata lock');
    assert.equal(readRevisionYaml(job, newer).trust ?? 'trusted', 'trusted', 'nothing written while verify holds the lock');
    await lock.release();
    await distrusting;

    const rev = readRevisionYaml(job, newer);
    assert.equal(rev.trust, 'distrusted');
    assert.equal(new Date(String(rev.verified)).toISOString(), '2026-01-02T03:04:05.000Z', "verify's note survives");
    assert.equal(scan.revisions.find((r) => r.uuid === newer)?.trust, 'distrusted', 'and the backup never takes it as a parent');
  });
});
