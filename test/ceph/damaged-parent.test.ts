/**
 * A differential backup keeps every block the RBD diff does not name as
 * the parent's image holds it: a parent whose image is not what its hash
 * record proves must not be built on.
 */
import assert from 'node:assert/strict';
import { chmodSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { CephCluster } from '../helpers/ceph-cluster.js';
import { MiB, assertRestoresTo, backupOk, createImage, exportSnapshot, imageContent, revisionStats, scribble, useCephCluster } from './ceph-test-kit.js';

describe('a damaged parent of a differential backup', { timeout: 300_000 }, () => {
  const setup = useCephCluster();
  let cluster: CephCluster;
  let scratch: string;
  before(() => {
    ({ cluster, scratch } = setup);
  });

  it('a parent image cut short is not built on: the next backup is a full one and restores to its snapshot', async () => {
    const image = 'rbd/cut';
    createImage(cluster, image, imageContent(8 * MiB, 'cut'), scratch);
    const job = await setup.initJob('cut', 'ceph-rbd', image);
    const first = await backupOk(job, cluster.env);
    // Its last 2 MiB lost (a filesystem repair, a botched copy): the .rev and the hash record still say 8 MiB.
    chmodSync(join(job, first), 0o640);
    truncateSync(join(job, first), 6 * MiB);
    scribble(cluster, image, '256K');
    const second = await backupOk(job, cluster.env);
    assert.equal(revisionStats(job, second).clone, 'empty');
    await assertRestoresTo(job, second, exportSnapshot(cluster, `${image}@backy-${second}`, join(scratch, 'second.img')), scratch, cluster.env);
  });

  it('nor is one cut short whose hash record is gone too: its .rev records the size', async () => {
    const image = 'rbd/cut-unrecorded';
    createImage(cluster, image, imageContent(8 * MiB, 'cut-unrecorded'), scratch);
    const job = await setup.initJob('cut-unrecorded', 'ceph-rbd', image);
    const first = await backupOk(job, cluster.env);
    chmodSync(join(job, first), 0o640);
    truncateSync(join(job, first), 6 * MiB);
    rmSync(join(job, `${first}.hashes`));
    scribble(cluster, image, '256K');
    const second = await backupOk(job, cluster.env);
    assert.equal(revisionStats(job, second).clone, 'empty');
    await assertRestoresTo(job, second, exportSnapshot(cluster, `${image}@backy-${second}`, join(scratch, 'second-unrecorded.img')), scratch, cluster.env);
  });
});
