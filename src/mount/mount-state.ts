import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic-file.js';
import { BackyError, errorCode } from '../util/errors.js';
import { isLoopDevice } from './block-programs.js';

/** Where `backy mount` keeps what `backy umount` needs, one directory per mountpoint; gone at reboot with the mounts. */
export const MOUNT_STATE_ROOT = '/run/backy/mounts';

/**
 * The files of one mount: the NBD socket of its `backy serve`, the FUSE
 * mountpoint where nbdfuse shows the export as a file, logs, and the
 * state. Every path is derived from the mountpoint, none read back.
 */
export class MountPaths {
  readonly dir: string;

  constructor(
    readonly mountpoint: string,
    root = MOUNT_STATE_ROOT,
  ) {
    this.dir = join(root, createHash('sha256').update(mountpoint).digest('hex').slice(0, 16));
  }

  get socket(): string {
    return join(this.dir, 'nbd.sock');
  }
  get fuseDir(): string {
    return join(this.dir, 'fuse');
  }
  get disk(): string {
    return join(this.fuseDir, 'disk');
  }
  get fusePidFile(): string {
    return join(this.dir, 'nbdfuse.pid');
  }
  get serveLog(): string {
    return join(this.dir, 'serve.log');
  }
  get fuseLog(): string {
    return join(this.dir, 'nbdfuse.log');
  }
  get stateFile(): string {
    return join(this.dir, 'state.json');
  }
}

const stateSchema = z.object({
  mountpoint: z.string(),
  job: z.string(),
  revision: z.string(),
  servePid: z.number().int().positive(),
  loopDevice: z.string().refine(isLoopDevice, 'expected /dev/loopN').nullable(),
  mounted: z.boolean(),
});

/** What was set up so far, written after every step so that `umount` can undo a mount that failed half-way. */
export type MountState = z.infer<typeof stateSchema>;

export async function writeMountState(paths: MountPaths, state: MountState): Promise<void> {
  await writeFileAtomic(paths.stateFile, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

/** The state of the mount at `paths`, null when there is none; a BackyError when it cannot be trusted. */
export async function readMountState(paths: MountPaths): Promise<MountState | null> {
  let text: string;
  try {
    text = await readFile(paths.stateFile, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BackyError(`${paths.stateFile} is not JSON: not touching what it describes`);
  }
  const checked = stateSchema.safeParse(parsed);
  if (!checked.success || checked.data.mountpoint !== paths.mountpoint) {
    throw new BackyError(`${paths.stateFile} is damaged or not this mount's: not touching what it describes`);
  }
  return checked.data;
}
