/**
 * The ceph-rbd source against a real single-node Ceph cluster, through the
 * built `backy` command: full, differential and fallback backups, resized
 * images, snapshot bookkeeping, and verification catching a wrong base.
 * Every restored revision is compared byte for byte with `rbd export` of
 * the snapshot it was made from, exported right after the backup.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { CephCluster } from '../helpers/ceph-cluster.js';
import { parseRbdDiff } from '../../src/sources/ceph-rbd/rbd-diff.js';
import { fingerprintJob, revisionIds } from '../helpers/job-files.js';
import { mountLoopFilesystem } from '../helpers/loop-fs.js';
import {
  MiB,
  assertRestoresTo,
  backupOk,
  backyAsync,
  createImage,
  exportSnapshot,
  imageContent,
  revisionStats,
  scribble,
  snapshotNames,
  useCephCluster,
} from './ceph-test-kit.js';

describe('ceph-rbd source', { timeout: 300_000 }, () => {
  const setup = useCephCluster();
  let cluster: CephCluster;
  let scratch: string;
  before(() => {
    ({ cluster, scratch } = setup);
  });
  const initJob = (name: string, image: string): Promise<string> => setup.initJob(name, 'ceph-rbd', image);

  it('makes full, differential and fallback-to-full backups that restore to their snapshots exactly', async () => {
    const image = 'rbd/vm1';
    createImage(cluster, image, imageContent(40 * MiB, 'vm1'), scratch);
    cluster.rbd(['snap', 'create', `${image}@admin-keep`]);
    const job = await initJob('vm1', image);

    const first = await backupOk(job, cluster.env);
    const firstExport = exportSnapshot(cluster, `${image}@backy-${first}`, join(scratch, 'first.img'));
    assert.deepEqual(snapshotNames(cluster, image), ['admin-keep', `backy-${first}`]);
    assert.equal(revisionStats(job, first).transfer, 'full');
    assert.equal(revisionStats(job, first).size, 40 * MiB);

    scribble(cluster, image);
    const second = await backupOk(job, cluster.env);
    const secondExport = exportSnapshot(cluster, `${image}@backy-${second}`, join(scratch, 'second.img'));
    assert.deepEqual(snapshotNames(cluster, image), ['admin-keep', `backy-${second}`], 'the parent snapshot is gone, the new one kept');
    const secondStats = revisionStats(job, second);
    assert.equal(secondStats.transfer, 'differential');
    assert.equal(secondStats.diff_from, `backy-${first}`);
    // 2 MiB were rewritten in 64 KiB writes: the diff is a fraction of the 40 MiB image (Ceph
    // reports changed extents coarser than the writes), and the writer wrote only what differs.
    assert.ok(Number(secondStats.bytes_read) < 10 * MiB, `bytes_read ${String(secondStats.bytes_read)}`);
    assert.ok(Number(secondStats.bytes_written) <= 2 * MiB, `bytes_written ${String(secondStats.bytes_written)}`);
    assert.equal(secondStats.verification, 'sample');

    // An admin removes backy's snapshot: the next backup reads everything.
    cluster.rbd(['snap', 'rm', '--no-progress', `${image}@backy-${second}`]);
    scribble(cluster, image, '1M');
    const third = await backupOk(job, cluster.env);
    const thirdExport = exportSnapshot(cluster, `${image}@backy-${third}`, join(scratch, 'third.img'));
    assert.equal(revisionStats(job, third).transfer, 'full');
    assert.ok(Number(revisionStats(job, third).bytes_written) <= 2 * MiB, 'unchanged blocks stay shared with the parent image');
    assert.deepEqual(snapshotNames(cluster, image), ['admin-keep', `backy-${third}`]);

    await assertRestoresTo(job, first, firstExport, scratch, cluster.env);
    await assertRestoresTo(job, second, secondExport, scratch, cluster.env);
    await assertRestoresTo(job, third, thirdExport, scratch, cluster.env);
    assert.ok(!readFileSync(firstExport).equals(readFileSync(secondExport)), 'the image really changed between backups');
  });

  it('reads the whole image when the job directory cannot share blocks (ext4), even with the parent snapshot there', async () => {
    const ext4 = mountLoopFilesystem('ext4', '512M');
    try {
      const image = 'rbd/noreflink';
      createImage(cluster, image, imageContent(12 * MiB, 'noreflink'), scratch);
      const job = join(ext4.path, 'noreflink');
      assert.equal((await backyAsync(['-b', job, 'init', '--store', 'cow', 'ceph-rbd', image], cluster.env)).status, 0);
      await backupOk(job, cluster.env);
      scribble(cluster, image, '1M');
      const result = await backyAsync(['-b', job, 'backup', 'daily'], cluster.env);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /INFO the new image does not start as a copy of the parent's: reading the whole of rbd\/noreflink/);
      const second = readlinkSync(join(job, 'last'));
      assert.equal(revisionStats(job, second).transfer, 'full');
      const exported = exportSnapshot(cluster, `${image}@backy-${second}`, join(scratch, 'noreflink.img'));
      await assertRestoresTo(job, second, exported, scratch, cluster.env);
    } finally {
      ext4.dispose();
    }
  });

  it('follows an image that grows, shrinks, and shrinks then grows between backups', async () => {
    const image = 'rbd/resized';
    createImage(cluster, image, imageContent(24 * MiB, 'resized'), scratch);
    const job = await initJob('resized', image);
    const check = async (label: string, size: number) => {
      const id = await backupOk(job, cluster.env);
      const exported = exportSnapshot(cluster, `${image}@backy-${id}`, join(scratch, `resized-${label}.img`));
      assert.equal(revisionStats(job, id).size, size, label);
      await assertRestoresTo(job, id, exported, scratch, cluster.env);
      return revisionStats(job, id);
    };
    await check('initial', 24 * MiB);

    cluster.rbd(['resize', '--no-progress', '--size', '40M', image]);
    scribble(cluster, image);
    assert.equal((await check('grown', 40 * MiB)).transfer, 'differential');

    cluster.rbd(['resize', '--no-progress', '--allow-shrink', '--size', '18M', image]);
    assert.equal((await check('shrunk', 18 * MiB)).transfer, 'differential');

    // What the shrink cut off must read as zeros when the image grows again.
    cluster.rbd(['resize', '--no-progress', '--allow-shrink', '--size', '6M', image]);
    cluster.rbd(['resize', '--no-progress', '--size', '30M', image]);
    scribble(cluster, image, '512K');
    assert.equal((await check('shrunk-then-grown', 30 * MiB)).transfer, 'differential');
  });

  it('verifies every byte when the job is configured with verify: full', async () => {
    const image = 'rbd/fullverify';
    createImage(cluster, image, imageContent(16 * MiB, 'fullverify'), scratch);
    const job = await initJob('fullverify', image);
    appendFileSync(join(job, 'config'), 'verify: full\n');
    const first = await backupOk(job, cluster.env);
    assert.equal(revisionStats(job, first).verification, 'full');
    assert.equal(revisionStats(job, first).bytes_verified, 16 * MiB);
    scribble(cluster, image, '1M');
    const second = await backupOk(job, cluster.env);
    assert.equal(revisionStats(job, second).verification, 'full');
    assert.equal(revisionStats(job, second).transfer, 'differential');
  });

  it('stops a sample verification at its time budget and records how much it compared', async () => {
    const image = 'rbd/budget';
    createImage(cluster, image, imageContent(16 * MiB, 'budget'), scratch);
    const job = await initJob('budget', image);
    appendFileSync(join(job, 'config'), 'verify_sample_percent: 50\nverify_time_budget: 0.001\n');
    const result = await backyAsync(['-b', job, 'backup', 'daily'], cluster.env);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /WARN sample verification stopped after its time budget of 0\.001 s: \d+ of \d+ bytes compared/);
    const stats = revisionStats(job, readlinkSync(join(job, 'last')));
    assert.equal(stats.verification, 'sample');
    assert.ok(Number(stats.bytes_verified) > 0 && Number(stats.bytes_verified) < 8 * MiB, `bytes_verified ${String(stats.bytes_verified)}`);
  });

  it('verifies fully, and says why, when librbd cannot be reached from Python', async () => {
    const image = 'rbd/nopython';
    createImage(cluster, image, imageContent(8 * MiB, 'nopython'), scratch);
    const job = await initJob('nopython', image);
    const result = await backyAsync(['-b', job, 'backup', 'daily'], { ...cluster.env, BACKY_PYTHON3: join(scratch, 'no-such-python') });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /WARN cannot read samples of rbd\/nopython@backy-\S+ directly \(.*no-such-python.*\); verifying the whole image instead/);
    const id = revisionIds(job)[0]!;
    assert.equal(revisionStats(job, id).verification, 'full');
    assert.equal(revisionStats(job, id).bytes_verified, 8 * MiB);
  });

  it('leaves protected backy snapshots and foreign snapshots alone, and says so', async () => {
    const image = 'rbd/protected';
    createImage(cluster, image, imageContent(8 * MiB, 'protected'), scratch);
    const job = await initJob('protected', image);
    const first = await backupOk(job, cluster.env);
    cluster.rbd(['snap', 'protect', `${image}@backy-${first}`]);
    cluster.rbd(['snap', 'create', `${image}@backyard`]);
    const result = await backyAsync(['-b', job, 'backup', 'daily'], cluster.env);
    assert.equal(result.status, 0, result.stderr);
    const second = revisionIds(job).find((id) => id !== first)!;
    assert.match(result.stdout, new RegExp(`WARN snapshot rbd/protected@backy-${first} is protected; leaving it`));
    assert.deepEqual(snapshotNames(cluster, image), [`backy-${first}`, `backy-${second}`, 'backyard'].sort());
    cluster.rbd(['snap', 'unprotect', `${image}@backy-${first}`]);
    const third = await backupOk(job, cluster.env);
    assert.deepEqual(snapshotNames(cluster, image), [`backy-${third}`, 'backyard']);
  });

  it('parses the real rbd diff v1 and v2 streams of the same changes identically', async () => {
    const image = 'rbd/formats';
    createImage(cluster, image, imageContent(8 * MiB, 'formats'), scratch);
    cluster.rbd(['snap', 'create', `${image}@a`]);
    scribble(cluster, image, '512K');
    cluster.rbd(['resize', '--no-progress', '--size', '10M', image]);
    cluster.rbd(['snap', 'create', `${image}@b`]);
    // `rbd export --export-format 2` embeds one v2 diff per snapshot: creation..a, a..b, b..head.
    const exported = cluster.rbd(['export', '--no-progress', '--export-format', '2', image, '-']);
    const banner = Buffer.from('rbd diff v2\n');
    const starts: number[] = [];
    for (let at = exported.indexOf(banner); at >= 0; at = exported.indexOf(banner, at + 1)) starts.push(at);
    assert.equal(starts.length, 3, 'three embedded diffs');
    const v2 = exported.subarray(starts[1], starts[2]);
    const v1 = cluster.rbd(['export-diff', '--no-progress', '--from-snap', 'a', `${image}@b`, '-']);
    const apply = async (stream: Buffer) => {
      const content = readFileSync(exportSnapshot(cluster, `${image}@a`, join(scratch, `formats-a-${stream.length}.img`)));
      const result = Buffer.alloc(10 * MiB);
      content.copy(result);
      const summary = await parseRbdDiff(Readable.from([stream]), {
        size: async (size) => assert.equal(size, 10 * MiB),
        data: async (offset, data) => void data.copy(result, offset),
        zero: async (offset, length) => void result.fill(0, offset, offset + length),
      });
      return { summary, result };
    };
    const fromV1 = await apply(v1);
    const fromV2 = await apply(v2);
    assert.equal(fromV1.summary.format, 1);
    assert.equal(fromV2.summary.format, 2);
    assert.deepEqual([fromV2.summary.fromSnapshot, fromV2.summary.toSnapshot], ['a', 'b']);
    const expected = readFileSync(exportSnapshot(cluster, `${image}@b`, join(scratch, 'formats-b.img')));
    assert.ok(fromV1.result.equals(expected), 'v1 applied to a gives b');
    assert.ok(fromV2.result.equals(expected), 'v2 applied to a gives b');
  });

  it('refuses a revision that differs from its snapshot: a snapshot recreated under the parent\'s name', async () => {
    const image = 'rbd/impostor';
    createImage(cluster, image, imageContent(16 * MiB, 'impostor'), scratch);
    const job = await initJob('impostor', image);
    // A quarter of the image sampled: the default 1 % (three blocks of 16 MiB) misses the
    // impostor in about one run of 16, when its uniform draws land in zeros both images share.
    appendFileSync(join(job, 'config'), 'verify_sample_percent: 25\n');
    const first = await backupOk(job, cluster.env);
    // An admin rolls the name over: same snapshot name, different content.
    cluster.rbd(['snap', 'rm', '--no-progress', `${image}@backy-${first}`]);
    const replaced = join(scratch, 'impostor-new.img');
    writeFileSync(replaced, imageContent(16 * MiB, 'something else entirely'));
    cluster.rbd(['rm', '--no-progress', image]);
    cluster.rbd(['import', '--no-progress', replaced, image]);
    cluster.rbd(['snap', 'create', `${image}@backy-${first}`]);
    scribble(cluster, image, '256K');
    const before = fingerprintJob(job);

    const result = await backyAsync(['-b', job, 'backup', 'daily'], cluster.env);
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /verification failed: the new revision differs from snapshot rbd\/impostor@backy-\S+ at byte \d+/);
    assert.deepEqual(fingerprintJob(job), before, 'no revision was added');
    assert.deepEqual(snapshotNames(cluster, image), [`backy-${first}`], 'the failed revision\'s snapshot is removed, the parent\'s kept');
  });
});
