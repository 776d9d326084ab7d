/**
 * What goes wrong between backy and Ceph: a missing image or pool, an
 * unreachable cluster, an rbd program that is missing or whose diff stream
 * is cut off or garbled. Each fails the backup with one clear line, leaves
 * the job directory as it was and backy's snapshots as the next backup
 * needs them — and the next backup recovers.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { before, describe, it } from 'node:test';
import type { CephCluster } from '../helpers/ceph-cluster.js';
import { assertOneLineError, fingerprintJob, readRevisionYaml, revisionIds } from '../helpers/job-files.js';
import { MiB, assertRestoresTo, backupOk, backyAsync, createImage, exportSnapshot, imageContent, revisionStats, scribble, snapshotNames, useCephCluster } from './ceph-test-kit.js';

/** A port nothing listens on (it was free a moment ago). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('ceph-rbd source faults', { timeout: 300_000 }, () => {
  const setup = useCephCluster();
  let cluster: CephCluster;
  let scratch: string;
  before(() => {
    ({ cluster, scratch } = setup);
    createImage(cluster, 'rbd/vm', imageContent(12 * MiB, 'faults'), scratch);
  });
  const initJob = (name: string, image: string): Promise<string> => setup.initJob(name, 'ceph-rbd', image);

  /** An executable shell script standing in for rbd. */
  const wrapper = (name: string, body: string): string => {
    const path = join(scratch, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  const failingBackup = async (job: string, env: NodeJS.ProcessEnv, pattern: RegExp, what: string): Promise<void> => {
    const before = fingerprintJob(job);
    const result = await backyAsync(['-b', job, 'backup', 'daily'], env);
    assertOneLineError({ ...result }, pattern, what);
    assert.deepEqual(fingerprintJob(job), before, `${what}: the job directory is unchanged`);
  };

  it('names an image that does not exist', async () => {
    const job = await initJob('missing-image', 'rbd/nothere');
    await failingBackup(job, cluster.env, /^backy: Ceph image "nothere" does not exist in pool "rbd" \(rbd snap create rbd\/nothere@backy-\S+: /, 'missing image');
  });

  it('names a pool that does not exist', async () => {
    const job = await initJob('missing-pool', 'nopool/vm');
    await failingBackup(job, cluster.env, /^backy: Ceph pool "nopool" does not exist \(rbd snap create nopool\/vm@backy-\S+: /, 'missing pool');
  });

  it('fails within a bounded time, saying why, when no monitor answers', async () => {
    const job = await initJob('unreachable', 'rbd/vm');
    const conf = join(scratch, 'unreachable.conf');
    const port = await unusedPort();
    writeFileSync(conf, readFileSync(cluster.conf, 'utf8').replace(/^mon host = .*$/m, `mon host = 127.0.0.1:${port}`));
    // No CEPH_ARGS: backy's own bound on connecting applies (librados alone would wait 5 minutes).
    await failingBackup(
      job,
      { ...cluster.env, CEPH_CONF: conf },
      /^backy: cannot reach the Ceph cluster \(.*timed out.*\): check CEPH_CONF\/CEPH_ARGS and that the monitors are up \(rbd snap create rbd\/vm@backy-\S+: /,
      'unreachable cluster',
    );
  });

  it('passes CEPH_ARGS through to rbd', async () => {
    const job = await initJob('ceph-args', 'rbd/vm');
    await failingBackup(
      job,
      { ...cluster.env, CEPH_ARGS: '--id nosuchuser' },
      /^backy: the Ceph cluster refused access: check the client name, its keyring and capabilities \(rbd snap create rbd\/vm@backy-\S+: /,
      'unknown client in CEPH_ARGS',
    );
  });

  it('names a missing rbd program', async () => {
    const job = await initJob('no-rbd', 'rbd/vm');
    const missing = join(scratch, 'no-such-rbd');
    await failingBackup(job, { ...cluster.env, BACKY_RBD: missing }, new RegExp(`^backy: cannot run ${missing}: program not found`), 'no rbd');
  });

  it('rejects a cut-off or garbled diff stream, keeps the parent snapshot, and recovers on the next backup', async () => {
    const job = await initJob('cut', 'rbd/vm');
    const first = await backupOk(job, cluster.env);
    scribble(cluster, 'rbd/vm');

    const truncating = wrapper('rbd-truncating', 'case " $* " in *" export-diff "*) rbd "$@" | head -c 70000 ;; *) exec rbd "$@" ;; esac');
    await failingBackup(
      job,
      { ...cluster.env, BACKY_RBD: truncating },
      /^backy: invalid rbd diff stream at byte 70000: the stream ended inside .*; cut off\?\)$/,
      'diff stream cut off',
    );
    assert.deepEqual(snapshotNames(cluster, 'rbd/vm'), [`backy-${first}`], 'the parent snapshot stays for the next differential backup');

    const garbling = wrapper('rbd-garbling', 'case " $* " in *" export-diff "*) printf "rbd diff v1\\nf\\001\\000\\000\\000xQ" ;; *) exec rbd "$@" ;; esac');
    await failingBackup(
      job,
      { ...cluster.env, BACKY_RBD: garbling },
      /^backy: invalid rbd diff stream at byte 18: unknown record type 0x51 \("Q"\)$/,
      'garbled diff stream',
    );

    const truncatingExport = wrapper('rbd-truncating-export', 'case " $* " in *" export "*) rbd "$@" | head -c 1000000 ;; *) exec rbd "$@" ;; esac');
    cluster.rbd(['snap', 'rm', '--no-progress', `rbd/vm@backy-${first}`]);
    await failingBackup(
      job,
      { ...cluster.env, BACKY_RBD: truncatingExport },
      /^backy: rbd export of rbd\/vm@backy-\S+ ended at byte 1000000 of 12582912 \(cut off\?\)$/,
      'export cut off',
    );
    assert.deepEqual(snapshotNames(cluster, 'rbd/vm'), [], 'the failed revisions\' snapshots are removed');

    const recovered = await backupOk(job, cluster.env);
    const exported = exportSnapshot(cluster, `rbd/vm@backy-${recovered}`, join(scratch, 'recovered.img'));
    assert.equal(readRevisionYaml(job, recovered).parent, first);
    assert.equal(revisionStats(job, recovered).transfer, 'full');
    assert.deepEqual(revisionIds(job).sort(), [first, recovered].sort());
    await assertRestoresTo(job, recovered, exported, scratch, cluster.env);
  });

  it('fails when rbd itself fails mid-stream, with rbd\'s reason rather than a parse error', async () => {
    const job = await initJob('rbd-dies', 'rbd/vm');
    await backupOk(job, cluster.env);
    scribble(cluster, 'rbd/vm', '512K');
    const dying = wrapper('rbd-dying', 'case " $* " in *" export-diff "*) rbd "$@" | head -c 100; echo "rbd: export-diff error: (5) Input/output error" >&2; exit 5 ;; *) exec rbd "$@" ;; esac');
    await failingBackup(
      job,
      { ...cluster.env, BACKY_RBD: dying },
      /^backy: rbd export-diff --from-snap backy-\S+ rbd\/vm@backy-\S+ - failed with exit status 5: export-diff error: \(5\) Input\/output error$/,
      'rbd failing',
    );
  });
});
