import { mountRevision, unmountRevision } from '../../mount/mount-revision.js';
import { systemClock } from '../../util/clock.js';
import { BackyError } from '../../util/errors.js';
import type { ActionContext } from '../context.js';

/** `backy mount -r REVISION MOUNTPOINT [--partition N]`. */
export async function mount(context: ActionContext, spec: string | undefined, mountpoint: string, partition: string | undefined): Promise<number> {
  let number: number | undefined;
  if (partition !== undefined) {
    number = Number(partition);
    if (!/^\d{1,3}$/.test(partition) || number < 1) throw new BackyError(`--partition ${JSON.stringify(partition)}: expected a partition number (1, 2, …)`);
  }
  const mounted = await mountRevision(context.jobPath, { spec, mountpoint, partition: number, logger: context.logger, clock: systemClock });
  context.logger.info(`revision ${mounted.revision} mounted read-only on ${mountpoint} (${mounted.type} on ${mounted.device}); backy umount ${mountpoint} undoes it`);
  return 0;
}

/** `backy umount MOUNTPOINT`. */
export async function umount(context: ActionContext, mountpoint: string): Promise<number> {
  await unmountRevision(mountpoint, context.logger);
  context.logger.info(`unmounted ${mountpoint}`);
  return 0;
}
