/**
 * A stand-in for the Flying Circus VM host agent: it watches Consul's
 * `snapshot/` keys with blocking queries and, for each request naming its
 * VM, "freezes" the VM (nothing to freeze here) and creates the requested
 * snapshot of the VM's image in the real Ceph cluster with `rbd snap
 * create`. It leaves the key alone: deleting it is backy's job.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const run = promisify(execFile);

export interface VmHostOptions {
  consulUrl: string;
  token?: string;
  vm: string;
  /** `POOL/IMAGE` of the VM's disk. */
  image: string;
  /** Environment for `rbd` (CEPH_CONF). */
  env: NodeJS.ProcessEnv;
  /** Time the "freeze" takes before the snapshot. */
  delayMs?: number;
}

export interface VmHost {
  /** Snapshots this host created, in order. */
  readonly snapshots: string[];
  /** Requests it saw: `{vm, snapshot}` values of the keys, for any VM. */
  readonly requests: Array<{ key: string; vm: string; snapshot: string }>;
  stop(): Promise<void>;
}

export function startVmHost(options: VmHostOptions): VmHost {
  const snapshots: string[] = [];
  const requests: VmHost['requests'] = [];
  const seen = new Set<string>();
  const abort = new AbortController();
  const headers: Record<string, string> = options.token ? { 'X-Consul-Token': options.token } : {};

  const watch = async (): Promise<void> => {
    let index = 0;
    while (!abort.signal.aborted) {
      let response: Response;
      try {
        response = await fetch(`${options.consulUrl}/v1/kv/snapshot/?recurse&index=${index}&wait=2s`, { headers, signal: abort.signal });
      } catch {
        if (abort.signal.aborted) return;
        await sleep(100);
        continue;
      }
      index = Number(response.headers.get('x-consul-index') ?? index);
      if (response.status !== 200) {
        await response.text();
        continue;
      }
      const entries = (await response.json()) as Array<{ Key: string; Value: string | null }>;
      for (const entry of entries) {
        if (seen.has(entry.Key) || !entry.Value) continue;
        seen.add(entry.Key);
        const request = JSON.parse(Buffer.from(entry.Value, 'base64').toString('utf8')) as { vm: string; snapshot: string };
        requests.push({ key: entry.Key, ...request });
        if (request.vm !== options.vm) continue;
        if (options.delayMs) await sleep(options.delayMs);
        await run('rbd', ['snap', 'create', '--no-progress', `${options.image}@${request.snapshot}`], { env: options.env });
        snapshots.push(request.snapshot);
      }
    }
  };
  const watching = watch();
  return {
    snapshots,
    requests,
    stop: async () => {
      abort.abort();
      await watching.catch(() => undefined);
    },
  };
}
