/**
 * A throwaway single-node Ceph cluster for tests and benchmarks: one
 * monitor and one OSD on `memstore` (data in RAM, no disk), both on
 * 127.0.0.1 at random free ports, everything under a temporary directory.
 *
 * Every daemon is started by this process (in the foreground, `-f`) and
 * killed by pid: by `stop()`, by an `exit` handler if the test process ends
 * without calling it, and by the kernel (parent-death signal via `setpriv`)
 * if the test process is killed outright.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CephClusterOptions {
  /** The OSD's capacity (held in RAM as data is written). Default 1 GiB. */
  memstoreBytes?: number;
  /** A pool to create and initialise for rbd. Default `rbd`. */
  pool?: string;
  /** How long start-up may take before it fails with the daemons' logs. Default 90 s. */
  timeoutMs?: number;
}

export interface CephCluster {
  readonly dir: string;
  /** The configuration file; it names the keyring (client.admin). */
  readonly conf: string;
  readonly pool: string;
  /** The process environment with CEPH_CONF set to this cluster. */
  readonly env: NodeJS.ProcessEnv;
  /** pids of the daemons this cluster started. */
  readonly pids: number[];
  /** Runs `rbd ARGS` against the cluster; throws with stderr on failure. */
  rbd(args: string[], options?: { input?: Buffer; encoding?: 'buffer' }): Buffer;
  rbdText(args: string[]): string;
  /** Runs `ceph ARGS`; returns stdout. */
  ceph(args: string[]): string;
  /** Kills the daemons and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const directories = new Set<string>();
let exitHandlerInstalled = false;

function killAllOnExit(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // `exit` handlers must be synchronous: SIGKILL needs no waiting.
  process.on('exit', () => {
    for (const child of running) {
      try {
        if (child.pid) process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  });
}

/** A free TCP port on 127.0.0.1, from the kernel's ephemeral range. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, input?: Buffer): Buffer {
  const result = spawnSync(command, args, { env, input, maxBuffer: 1024 * 1024 * 1024, timeout: 120_000 });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr.toString().trim()}`);
  }
  return result.stdout;
}

function configuration(dir: string, fsid: string, monHost: string, memstoreBytes: number): string {
  return `[global]
fsid = ${fsid}
mon host = ${monHost}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = ${dir}/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
run dir = ${dir}/run

[mon]
mon data = ${dir}/mon
# Snapshot create/remove wait for the monitor's next map proposal, 1 s apart
# by default; a one-node toy cluster can propose at once.
paxos propose interval = 0.05
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok

[osd]
osd data = ${dir}/osd
osd objectstore = memstore
memstore device bytes = ${memstoreBytes}
log file = ${dir}/log/$name.log
admin socket = ${dir}/run/$name.asok

[client]
admin socket =
log file =
`;
}

export async function startCephCluster(options: CephClusterOptions = {}): Promise<CephCluster> {
  const pool = options.pool ?? 'rbd';
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  const dir = mkdtempSync(join(tmpdir(), 'backy-ceph-'));
  directories.add(dir);
  for (const sub of ['mon', 'osd', 'run', 'log']) mkdirSync(join(dir, sub));
  const conf = join(dir, 'ceph.conf');
  const env: NodeJS.ProcessEnv = { ...process.env, CEPH_CONF: conf };
  delete env.CEPH_ARGS;
  delete env.CEPH_CLUSTER;
  const children: ChildProcess[] = [];
  killAllOnExit();

  const startDaemon = (name: string, program: string, args: string[]): ChildProcess => {
    const out = openSync(join(dir, 'log', `${name}.out`), 'a');
    // setpriv: the daemon gets SIGKILL when this process dies, even by SIGKILL.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', program, '-f', ...args, '-c', conf], {
      env,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    child.on('error', () => undefined);
    children.push(child);
    running.add(child);
    child.on('exit', () => running.delete(child));
    return child;
  };

  const logsTail = (): string => {
    const parts: string[] = [];
    for (const name of ['mon.out', 'mon.a.log', 'osd.out', 'osd.0.log']) {
      const path = join(dir, 'log', name);
      if (!existsSync(path)) continue;
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-15);
      parts.push(`--- ${name} ---\n${lines.join('\n')}`);
    }
    return parts.join('\n');
  };

  const stop = async (): Promise<void> => {
    // Nothing here is worth a clean shutdown: the data goes with the directory.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    while (children.some((c) => c.exitCode === null && c.signalCode === null)) await sleep(20);
    rmSync(dir, { recursive: true, force: true });
    directories.delete(dir);
  };

  const waitFor = async (what: string, check: () => boolean): Promise<void> => {
    for (;;) {
      for (const child of children) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`a Ceph daemon exited (${child.exitCode ?? child.signalCode}) while waiting for ${what}\n${logsTail()}`);
        }
      }
      if (check()) return;
      if (Date.now() > deadline) throw new Error(`the test Ceph cluster did not come up: timed out waiting for ${what}\n${logsTail()}`);
      await sleep(250);
    }
  };

  const ceph = (args: string[]): string => run('ceph', ['--connect-timeout', '15', ...args], env).toString('utf8');

  try {
    const fsid = randomUUID();
    const [v2, v1] = [await freePort(), await freePort()];
    const monHost = `[v2:127.0.0.1:${v2},v1:127.0.0.1:${v1}]`;
    writeFileSync(conf, configuration(dir, fsid, monHost, options.memstoreBytes ?? 1024 ** 3));
    const keyring = join(dir, 'keyring');
    run('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], env);
    run('ceph-authtool', [keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *'], env);
    run('ceph-authtool', [keyring, '--gen-key', '-n', 'osd.0', '--cap', 'mon', 'allow profile osd', '--cap', 'osd', 'allow *'], env);
    const monmap = join(dir, 'monmap');
    run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', monHost, monmap], env);
    run('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring, '-c', conf], env);
    startDaemon('mon', 'ceph-mon', ['-i', 'a']);

    const osdUuid = randomUUID();
    await waitFor('the monitor', () => {
      try {
        ceph(['osd', 'new', osdUuid]);
        return true;
      } catch {
        return false;
      }
    });
    run('ceph-osd', ['-i', '0', '--mkfs', '--osd-uuid', osdUuid, '-c', conf], env);
    startDaemon('osd', 'ceph-osd', ['-i', '0']);
    await waitFor('the OSD to be up', () => {
      try {
        return (JSON.parse(ceph(['osd', 'stat', '--format', 'json'])) as { num_up_osds: number }).num_up_osds === 1;
      } catch {
        return false;
      }
    });
    ceph(['osd', 'pool', 'create', pool, '8']);
    // Also waits until the pool's placement groups are active.
    run('rbd', ['pool', 'init', pool], env);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    dir,
    conf,
    pool,
    env,
    get pids() {
      return children.map((c) => c.pid ?? 0);
    },
    rbd: (args, opts = {}) => run('rbd', args, env, opts.input),
    rbdText: (args) => run('rbd', args, env).toString('utf8'),
    ceph,
    stop,
  };
}
