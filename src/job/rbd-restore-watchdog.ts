/**
 * `restore --rbd` cleans up after itself when it fails or is interrupted;
 * killed with SIGKILL, it cannot. So before it creates the image, it
 * starts this module as a process of its own (in a session of its own:
 * signals meant for the restore's process group do not reach it) that
 * reads a pipe from the restore and is told `done` once the image is
 * committed or cleaned up. Every rbd the restore runs holds the restore's
 * end of that pipe too, so the pipe ends only when the restore and all
 * its rbd commands are gone: when it ends without `done`, nothing is
 * still writing to the image, and this process aborts the migration and
 * removes the image as the restore would have — if the rbd that made it
 * said `made` (another may have taken the name since the restore found
 * it free, and the restore may be gone before its rbd ends). Its lines
 * go to the restore's stderr.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { IMAGE_MADE, RbdTarget } from '../sources/ceph-rbd/rbd-target.js';
import { createLogger, fdSink } from '../util/logger.js';
import { removeUnfinishedImage } from './rbd-unfinished-image.js';

const DONE = 'done\n';

export interface RestoreWatchdog {
  /** The restore's end of the pipe: every rbd of the restore inherits it. */
  readonly pipe: Writable;
  /**
   * The image is finished or cleaned up already: the watchdog ends without
   * touching it. Resolves once the word is out (the process exits soon after).
   */
  release(): Promise<void>;
}

export function startRestoreWatchdog(pool: string, image: string, migrating: boolean, env: NodeJS.ProcessEnv): RestoreWatchdog {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), pool, image, migrating ? 'migrating' : 'plain'], {
    env,
    stdio: ['pipe', 'ignore', 'inherit'],
    detached: true,
  });
  // A pipe to a child is a socket.
  const pipe = child.stdin as Socket;
  // Gone early (it failed to start), it cannot help: the restore goes on without it.
  pipe.on('error', () => undefined);
  child.on('error', () => undefined);
  child.unref();
  // The socket must not keep a finished restore's process alive.
  pipe.unref();
  const release = () =>
    new Promise<void>((resolve) => {
      pipe.once('error', () => resolve());
      pipe.end(DONE, () => resolve());
    });
  return { pipe, release };
}

async function watch(pool: string, image: string, migrating: boolean): Promise<void> {
  let heard = '';
  process.stdin.setEncoding('utf8');
  for await (const text of process.stdin) {
    heard += text as string;
    if (heard.includes(DONE)) return;
  }
  if (!heard.includes(IMAGE_MADE)) return;
  const logger = createLogger(fdSink(2));
  const target = new RbdTarget(pool, image);
  logger.warn(`the restore into ${target.spec} ended before it finished; removing what it made`);
  await removeUnfinishedImage(target, migrating, logger);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [pool, image, mode] = process.argv.slice(2);
  await watch(pool!, image!, mode === 'migrating');
}
