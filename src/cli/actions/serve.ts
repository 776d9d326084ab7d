import { resolve } from 'node:path';
import { serveJob } from '../../job/serve-job.js';
import { parseListenAddress } from '../../serve/listen-address.js';
import type { ListenAddress } from '../../serve/nbd/server.js';
import { systemClock } from '../../util/clock.js';
import { BackyError } from '../../util/errors.js';
import type { ActionContext } from '../context.js';
import { abortOnSignals } from '../signals.js';

export interface ServeFlags {
  revision?: string;
  listen?: string;
  socket?: string;
  writable?: boolean;
}

/** The IANA port of NBD, on this machine only. */
const DEFAULT_LISTEN = '127.0.0.1:10809';

/** `backy serve`: stdout gets one line, the NBD URI; the log goes to stderr. Ends with exit 0 on SIGTERM/SIGINT. */
export async function serve(context: ActionContext, flags: ServeFlags): Promise<number> {
  if (flags.listen !== undefined && flags.socket !== undefined) throw new BackyError('serve: give --listen or --socket, not both');
  const listen: ListenAddress = flags.socket !== undefined ? { path: resolve(flags.socket) } : parseListenAddress(flags.listen ?? DEFAULT_LISTEN, '--listen');
  const interrupt = abortOnSignals();
  try {
    await serveJob(context.jobPath, {
      spec: flags.revision,
      listen,
      writable: Boolean(flags.writable),
      logger: context.logger,
      clock: systemClock,
      signal: interrupt.signal,
      onListening: (uri) => context.stdout.write(`${uri}\n`),
    });
  } finally {
    interrupt.dispose();
  }
  return 0;
}
