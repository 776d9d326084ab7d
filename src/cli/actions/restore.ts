import { restoreJob } from '../../job/restore-job.js';
import { parseListenAddress } from '../../serve/listen-address.js';
import { systemClock } from '../../util/clock.js';
import { BackyError } from '../../util/errors.js';
import type { ActionContext } from '../context.js';
import { runLongOperation } from '../long-operation.js';

export interface RestoreFlags {
  revision?: string;
  force?: boolean;
  rbd?: string;
  instant?: boolean;
  httpListen?: string;
}

export async function restore(context: ActionContext, target: string | undefined, flags: RestoreFlags): Promise<number> {
  const { revision: spec, force = false } = flags;
  if (flags.rbd === undefined) {
    if (flags.instant || flags.httpListen !== undefined) throw new BackyError('restore: --instant and --http-listen need --rbd POOL/IMAGE');
    if (target === undefined) throw new BackyError('restore: give a TARGET (a file, a block device or - for stdout) or --rbd POOL/IMAGE');
    return runLongOperation(context, 'restore', (controls) =>
      restoreJob(context.jobPath, { spec, target, force, stdout: context.stdout, logger: context.logger, clock: systemClock, ...controls }),
    );
  }
  if (target !== undefined) throw new BackyError('restore: give a TARGET or --rbd POOL/IMAGE, not both');
  if (force) throw new BackyError('restore: --force cannot be combined with --rbd: a new image never gets damaged blocks');
  if (flags.httpListen !== undefined && !flags.instant) throw new BackyError('restore: --http-listen is for --instant');
  const { pool, image } = await rbdTarget(flags.rbd);
  const httpListen = parseListenAddress(flags.httpListen ?? '127.0.0.1:0', '--http-listen');
  // Loaded here, not above: a restore to a file starts without Ceph's modules.
  const { restoreToRbd } = await import('../../job/rbd-restore-job.js');
  return runLongOperation(context, 'restore', (controls) =>
    restoreToRbd(context.jobPath, { spec, pool, image, instant: Boolean(flags.instant), httpListen, logger: context.logger, clock: systemClock, ...controls }),
  );
}

async function rbdTarget(text: string): Promise<{ pool: string; image: string }> {
  const { parsePoolImage } = await import('../../sources/ceph-rbd/rbd-names.js');
  try {
    return parsePoolImage(text, '');
  } catch {
    throw new BackyError(`--rbd ${JSON.stringify(text)}: expected POOL/IMAGE, e.g. rbd/vm1-restored`);
  }
}
