/**
 * The test cluster harness itself: no Ceph daemon outlives the process
 * that started it, whether that process stops the cluster, crashes, or is
 * killed outright.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const HARNESS = fileURLToPath(new URL('../helpers/ceph-cluster.js', import.meta.url));

/** Starts a cluster in a child process that then ends as `how` says; returns what it reported. */
function clusterInChild(how: 'stop' | 'throw' | 'sigkill'): { pids: number[]; dir: string; status: number | null; signal: string | null } {
  const script = `
    import { startCephCluster } from ${JSON.stringify(HARNESS)};
    const cluster = await startCephCluster();
    cluster.rbd(['create', '--size', '4M', 'rbd/probe']);
    console.log(JSON.stringify({ pids: cluster.pids, dir: cluster.dir }));
    if (${JSON.stringify(how)} === 'stop') await cluster.stop();
    else if (${JSON.stringify(how)} === 'throw') throw new Error('the test crashed');
    else process.kill(process.pid, 'SIGKILL');
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  const line = result.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `the child reported no cluster: ${result.stderr}`);
  return { ...(JSON.parse(line) as { pids: number[]; dir: string }), status: result.status, signal: result.signal };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0; it is dead once its state says so.
  const stat = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return stat.length > 0 && !stat.startsWith('Z');
}

async function assertAllGone(pids: number[], what: string): Promise<void> {
  const until = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < until) await sleep(50);
  assert.deepEqual(pids.filter(alive), [], `${what}: daemons still running`);
}

describe('test Ceph cluster harness', { timeout: 300_000 }, () => {
  it('stops its monitor and OSD and removes its directory', async () => {
    const child = clusterInChild('stop');
    assert.equal(child.status, 0);
    assert.equal(child.pids.length, 2);
    await assertAllGone(child.pids, 'after stop()');
    assert.equal(existsSync(child.dir), false);
  });

  it('kills its daemons when the test process crashes', async () => {
    const child = clusterInChild('throw');
    assert.equal(child.status, 1);
    await assertAllGone(child.pids, 'after a crash');
    assert.equal(existsSync(child.dir), false);
  });

  it('kills its daemons when the test process is killed outright', async () => {
    const child = clusterInChild('sigkill');
    assert.equal(child.signal, 'SIGKILL');
    await assertAllGone(child.pids, 'after SIGKILL');
    // Nothing could remove the directory of a process killed outright.
    rmSync(child.dir, { recursive: true, force: true });
  });
});
