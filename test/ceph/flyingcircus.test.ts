/**
 * The flyingcircus source: backy asks the VM's host through Consul to
 * freeze the VM and take the snapshot. Against the real Ceph cluster, a
 * Consul stand-in (with ACL tokens) and a VM-host stand-in that creates
 * the requested snapshots; and without a host answering, with a bad token,
 * and with Consul down.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { CephCluster } from '../helpers/ceph-cluster.js';
import { startConsulStandin, type ConsulStandin } from '../helpers/consul-standin.js';
import { assertOneLineError, fingerprintJob } from '../helpers/job-files.js';
import { startVmHost } from '../helpers/vm-host-standin.js';
import { MiB, assertRestoresTo, backupOk, backyAsync, createImage, exportSnapshot, imageContent, revisionStats, scribble, snapshotNames, useCephCluster } from './ceph-test-kit.js';

const TOKEN = 'a211c244-846b-11e5-999b-081196cf15b4';

describe('flyingcircus source', { timeout: 300_000 }, () => {
  const setup = useCephCluster();
  let cluster: CephCluster;
  let consul: ConsulStandin;
  let scratch: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    ({ cluster, scratch } = setup);
    consul = await startConsulStandin({ aclToken: TOKEN });
    env = { ...cluster.env, CONSUL_HTTP_ADDR: consul.address };
    delete env.CONSUL_HTTP_TOKEN;
  });

  after(async () => {
    await consul?.close();
  });

  const initJob = async (name: string, source: string, extraConfig = ''): Promise<string> => {
    const job = await setup.initJob(name, 'flyingcircus', source, env);
    if (extraConfig) appendFileSync(join(job, 'config'), extraConfig);
    return job;
  };

  it('has the VM host freeze the VM and take the snapshot, then deletes the Consul key', async () => {
    createImage(cluster, 'rbd/test03.root', imageContent(12 * MiB, 'test03'), scratch);
    const host = startVmHost({ consulUrl: consul.url, token: TOKEN, vm: 'test03', image: 'rbd/test03.root', env: cluster.env, delayMs: 300 });
    try {
      const job = await initJob('test03', `rbd/test03.root,test03,${TOKEN}`);
      const first = await backupOk(job, env);
      assert.deepEqual(host.snapshots, [`backy-${first}`], 'the host took the snapshot');
      assert.equal(revisionStats(job, first).frozen, true);
      const firstExport = exportSnapshot(cluster, `rbd/test03.root@backy-${first}`, join(scratch, 'test03-1.img'));

      scribble(cluster, 'rbd/test03.root', '1M');
      const second = await backupOk(job, env);
      assert.deepEqual(host.snapshots, [`backy-${first}`, `backy-${second}`]);
      assert.equal(revisionStats(job, second).frozen, true);
      assert.equal(revisionStats(job, second).transfer, 'differential');
      const secondExport = exportSnapshot(cluster, `rbd/test03.root@backy-${second}`, join(scratch, 'test03-2.img'));
      assert.deepEqual(snapshotNames(cluster, 'rbd/test03.root'), [`backy-${second}`]);

      // What went through Consul: each request written with the token, then deleted.
      assert.deepEqual(host.requests.map((r) => [r.vm, r.snapshot]), [
        ['test03', `backy-${first}`],
        ['test03', `backy-${second}`],
      ]);
      for (const { key } of host.requests) {
        assert.match(key, /^snapshot\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        const calls = consul.requests.filter((r) => r.key === key && r.method !== 'GET');
        assert.deepEqual(calls.map((r) => [r.method, r.token, r.status]), [
          ['PUT', TOKEN, 200],
          ['DELETE', TOKEN, 200],
        ]);
      }
      assert.deepEqual(consul.keys(), []);

      await assertRestoresTo(job, first, firstExport, scratch, env);
      await assertRestoresTo(job, second, secondExport, scratch, env);
    } finally {
      await host.stop();
    }
  });

  it('takes the snapshot itself when the VM does not answer in time, and records that it was not frozen', async () => {
    createImage(cluster, 'rbd/silent.root', imageContent(8 * MiB, 'silent'), scratch);
    // A host is watching, but for another VM: nobody answers for this one.
    const host = startVmHost({ consulUrl: consul.url, token: TOKEN, vm: 'someone-else', image: 'rbd/silent.root', env: cluster.env });
    try {
      const job = await initJob('silent', `rbd/silent.root,silent,${TOKEN}`, 'snapshot_timeout: 2\n');
      const result = await backyAsync(['-b', job, 'backup', 'daily'], env);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /WARN VM silent did not take snapshot rbd\/silent\.root@backy-\S+ within 2 s; took it without freezing the VM/);
      const id = result.stdout.match(/revision (\S+) complete/)![1]!;
      assert.equal(revisionStats(job, id).frozen, false);
      assert.deepEqual(host.snapshots, []);
      assert.equal(host.requests.length, 1, 'the request was made');
      assert.deepEqual(consul.keys(), [], 'and its key deleted');
      const exported = exportSnapshot(cluster, `rbd/silent.root@backy-${id}`, join(scratch, 'silent.img'));
      await assertRestoresTo(job, id, exported, scratch, env);
    } finally {
      await host.stop();
    }
  });

  it('fails with one clear line when Consul refuses the token, taking no snapshot', async () => {
    createImage(cluster, 'rbd/badtoken.root', imageContent(4 * MiB, 'badtoken'), scratch);
    const job = await initJob('badtoken', 'rbd/badtoken.root,badtoken,not-the-token');
    const before = fingerprintJob(job);
    const result = await backyAsync(['-b', job, 'backup', 'daily'], env);
    assertOneLineError(
      result,
      /^backy: Consul PUT snapshot\/\S+ at http:\/\/127\.0\.0\.1:\d+ was refused: 403 Permission denied \(check consul_acl_token in the job's source configuration\)$/,
      'bad token',
    );
    assert.deepEqual(fingerprintJob(job), before);
    assert.deepEqual(snapshotNames(cluster, 'rbd/badtoken.root'), []);
  });

  it('fails with one clear line when nothing listens at CONSUL_HTTP_ADDR', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    createImage(cluster, 'rbd/noconsul.root', imageContent(4 * MiB, 'noconsul'), scratch);
    const job = await initJob('noconsul', `rbd/noconsul.root,noconsul,${TOKEN}`);
    const result = await backyAsync(['-b', job, 'backup', 'daily'], { ...env, CONSUL_HTTP_ADDR: `127.0.0.1:${port}` });
    assertOneLineError(
      result,
      new RegExp(`^backy: Consul PUT snapshot/\\S+ at http://127\\.0\\.0\\.1:${port} failed: connection refused \\(set CONSUL_HTTP_ADDR if Consul listens elsewhere\\)$`),
      'Consul down',
    );
    assert.deepEqual(snapshotNames(cluster, 'rbd/noconsul.root'), []);
  });
});
