import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { throwIfAborted } from '../../util/abort.js';
import type { SnapshotTaker } from '../ceph-rbd/ceph-rbd-source.js';
import type { RbdClient } from '../ceph-rbd/rbd-client.js';
import { ConsulClient } from './consul-client.js';

export interface FreezeSettings {
  vm: string;
  consulToken: string | undefined;
  /** How long the VM's host may take to freeze the VM and take the snapshot. */
  timeoutSeconds: number;
  env?: NodeJS.ProcessEnv;
  /** How often to look for the snapshot. */
  pollMs?: number;
}

/**
 * Asks the VM's host, through Consul, to freeze the VM's filesystems and
 * take the snapshot (a consistent state): writes `snapshot/{uuid}` =
 * `{"vm": VM, "snapshot": NAME}` and waits for the snapshot to appear. The
 * key is deleted in every case. When the host does not answer in time,
 * backy takes the snapshot itself (crash-consistent only) and records
 * `frozen: false`.
 */
export function freezeAndSnapshot(settings: FreezeSettings): SnapshotTaker {
  return async (rbd, name, context) => {
    const { logger, signal } = context;
    // A missing image or an unreachable cluster shows here, before the VM is bothered.
    await rbd.snapshots();
    const consul = new ConsulClient(settings.consulToken, settings.env);
    const key = `snapshot/${randomUUID()}`;
    try {
      await consul.put(key, JSON.stringify({ vm: settings.vm, snapshot: name }));
    } catch (err) {
      // Stored all the same, perhaps, with the answer lost: the host must not freeze the VM for a backup that failed.
      await consul.delete(key).catch(() => undefined);
      throw err;
    }
    logger.info(`asked the host of VM ${settings.vm} to freeze it and take snapshot ${rbd.spec(name)} (Consul key ${key})`);
    let appeared: boolean;
    try {
      appeared = await waitForSnapshot(rbd, name, settings.timeoutSeconds * 1000, settings.pollMs ?? 500, signal);
    } finally {
      // Deleted before any snapshot of our own, so a late host cannot race it.
      await consul.delete(key).catch((err: unknown) => logger.warn(`could not delete Consul key ${key}: ${(err as Error).message}`));
    }
    if (appeared) {
      logger.info(`snapshot ${rbd.spec(name)} taken by the host of VM ${settings.vm}`);
      return { frozen: true };
    }
    if ((await rbd.createSnapshot(name)) === 'exists') {
      logger.info(`snapshot ${rbd.spec(name)} taken by the host of VM ${settings.vm} just after the timeout`);
      return { frozen: true };
    }
    logger.warn(
      `VM ${settings.vm} did not take snapshot ${rbd.spec(name)} within ${settings.timeoutSeconds} s; ` +
        'took it without freezing the VM (the revision is crash-consistent only)',
    );
    return { frozen: false };
  };
}

async function waitForSnapshot(rbd: RbdClient, name: string, timeoutMs: number, pollMs: number, signal: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfAborted(signal);
    if ((await rbd.snapshots()).some((s) => s.name === name)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(pollMs, left));
  }
}
