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

  /** Backs up `image` of 8 MiB, cuts the revision's image file to 6 MiB (and removes its record), changes the image, backs up again. */
  async function cutParent(name: string, removeRecord: boolean): Promise<void> {
    const image = `rbd/${name}`;
    createImage(cluster, image, imageContent(8 * MiB, name), scratch);
    const job = await setup.initJob(name, 'ceph-rbd', image);
    const first = await backupOk(job, cluster.env);
    // Its last 2 MiB lost (a filesystem repair, a botched copy): the .rev, and the hash record where kept, still say 8 MiB.
    chmodSync(join(job, first), 0o640);
    truncateSync(join(job, first), 6 * MiB);
    if (removeRecord) rmSync(join(job, `${first}.hashes`));
    scribble(cluster, image, '256K');
    const second = await backupOk(job, cluster.env);
    assert.equal(revisionStats(job, second).clone, 'empty');
    await assertRestoresTo(job, second, exportSnapshot(cluster, `${image}@backy-${second}`, join(scratch, `${name}.img`)), scratch, cluster.env);
  }

  it('a parent image cut short is not built on: the next backup is a full one and restores to its snapshot', () => cutParent('cut', false));

  it('nor is one cut short whose hash record is gone too: its .rev records the size', () => cutParent('cut-unrecorded', true));
});
