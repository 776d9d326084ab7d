import { Socket } from 'node:net';
import { AbortedError } from './errors.js';

/**
 * The scheduler starts each backup with one end of a pipe as an extra
 * descriptor and names it in this variable. The scheduler never writes to
 * it: the pipe ends (EOF) only when the scheduler is gone, also when it was
 * killed with SIGKILL and could not stop its backups itself. The backup
 * then aborts, as on SIGTERM, removing its incomplete revision and
 * releasing the job's lock for the next scheduler.
 */
export const LIFELINE_ENV = 'BACKY_SCHEDULER_LIFELINE_FD';

export function abortWhenSchedulerGone(env: NodeJS.ProcessEnv = process.env): { signal: AbortSignal; dispose(): void } | null {
  const value = env[LIFELINE_ENV];
  if (value === undefined) return null;
  // Programs this backup runs (rbd, cp) need not know.
  delete env[LIFELINE_ENV];
  const fd = Number(value);
  if (!Number.isInteger(fd) || fd < 3) return null;
  let pipe: Socket;
  try {
    pipe = new Socket({ fd, readable: true, writable: false });
  } catch {
    return null; // not open: started by hand with the variable set
  }
  const controller = new AbortController();
  const gone = () => controller.abort(new AbortedError('interrupted: the scheduler that started this backup is gone'));
  pipe.on('end', gone);
  pipe.on('error', gone);
  pipe.resume();
  // The pipe alone must not keep a finished backup's process alive.
  pipe.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      pipe.off('end', gone);
      pipe.off('error', gone);
      pipe.destroy();
    },
  };
}
