import { BackyError } from '../../util/errors.js';
import type { ImageReader, ImageWriter } from '../../io/image.js';
import type { BackupContext, Source, SourceBackup, VerificationResult } from '../source.js';
import { RbdClient, type RbdSnapshot } from './rbd-client.js';
import { transferDifferential, transferFull, type TransferResult } from './rbd-transfer.js';
import { verifyAgainstSnapshot, type VerifySettings } from './rbd-verify.js';
import { cleanUpSnapshots, snapshotName } from './snapshot-cleanup.js';
import { SnapshotSampler } from './snapshot-sampler.js';

/**
 * Takes the snapshot `name` of the image and returns what the revision's
 * stats should record about how (the flyingcircus source freezes the VM
 * first). The snapshot must exist when it returns.
 */
export type SnapshotTaker = (rbd: RbdClient, name: string, context: BackupContext) => Promise<Record<string, unknown>>;

export const takeSnapshotDirectly: SnapshotTaker = async (rbd, name, context) => {
  if ((await rbd.createSnapshot(name)) === 'exists') context.logger.warn(`snapshot ${rbd.spec(name)} already existed; using it`);
  return {};
};

export interface CephRbdSourceOptions {
  pool: string;
  image: string;
  verify: VerifySettings;
  /** For `describe()`: `ceph-rbd rbd/vm1`. */
  label: string;
  takeSnapshot: SnapshotTaker;
  env?: NodeJS.ProcessEnv;
}

/**
 * An RBD image, backed up from a snapshot per revision. When the parent
 * revision's snapshot still exists, only the difference between the two
 * snapshots travels; otherwise the whole snapshot is read and the delta
 * writer keeps what did not change shared with the parent image.
 */
export class CephRbdSource implements Source {
  constructor(private readonly options: CephRbdSourceOptions) {}

  describe(): string {
    return this.options.label;
  }

  async begin(context: BackupContext): Promise<SourceBackup> {
    const { pool, image, env } = this.options;
    const { logger, parent } = context;
    const rbd = new RbdClient(pool, image, env);
    const snapshot = snapshotName(context.revision.uuid);
    const parentSnapshot = parent ? snapshotName(parent.uuid) : null;
    // Also where a missing pool or image, or an unreachable cluster, shows.
    const snapshotStats = await this.options.takeSnapshot(rbd, snapshot, context);
    try {
      const snapshots = await rbd.snapshots();
      const taken = snapshots.find((s) => s.name === snapshot);
      if (!taken) throw new BackyError(`snapshot ${rbd.spec(snapshot)} is missing right after it was taken`);
      const base = parentSnapshot && snapshots.some((s) => s.name === parentSnapshot) ? parentSnapshot : null;
      return new RbdBackup(rbd, context, { snapshot, base, parentSnapshot, size: taken.size, snapshots, snapshotStats, options: this.options });
    } catch (err) {
      await cleanUpSnapshots(rbd, parentSnapshot, logger);
      throw err;
    }
  }
}

interface RbdBackupState {
  snapshot: string;
  /** The parent's snapshot when it still exists: the base of a differential backup. */
  base: string | null;
  parentSnapshot: string | null;
  size: number;
  /** The image's snapshots right after this backup's was taken. */
  snapshots: RbdSnapshot[];
  snapshotStats: Record<string, unknown>;
  options: CephRbdSourceOptions;
}

class RbdBackup implements SourceBackup {
  readonly size: number;
  private transferred: TransferResult | null = null;
  private readonly sampler: SnapshotSampler;

  constructor(
    private readonly rbd: RbdClient,
    private readonly context: BackupContext,
    private readonly state: RbdBackupState,
  ) {
    this.size = state.size;
    this.sampler = new SnapshotSampler({ pool: rbd.pool, image: rbd.image, snapshot: state.snapshot }, state.options.env);
  }

  async transfer(writer: ImageWriter): Promise<Record<string, unknown>> {
    const { snapshot, parentSnapshot, snapshotStats } = this.state;
    const { logger, signal, onProgress } = this.context;
    // Connecting to the cluster takes a moment: done while the data flows.
    if (this.state.options.verify.mode === 'sample') this.sampler.start();
    // The changes since the parent's snapshot are enough only on top of the parent's content.
    const base = writer.holdsParent ? this.state.base : null;
    if (base) logger.info(`differential backup of ${this.rbd.spec()} from ${base} to ${snapshot}`);
    else if (!parentSnapshot) logger.info(`first backup of ${this.rbd.spec()}: reading the whole image`);
    else if (this.state.base) logger.info(`the new image does not start as a copy of the parent's: reading the whole of ${this.rbd.spec()}`);
    else logger.info(`snapshot ${this.rbd.spec(parentSnapshot)} of the parent revision is gone: reading the whole image`);
    const transferContext = { rbd: this.rbd, snapshot, size: this.size, writer, signal, onProgress };
    this.transferred = base ? await transferDifferential(transferContext, base) : await transferFull(transferContext);
    return {
      snapshot,
      transfer: base ? 'differential' : 'full',
      ...(base ? { diff_from: base } : {}),
      bytes_read: this.transferred.bytesRead,
      ...snapshotStats,
    };
  }

  async verify(image: ImageReader): Promise<VerificationResult> {
    const written = this.transferred ? [...this.transferred.written.within(0, this.size)] : [];
    return verifyAgainstSnapshot({
      rbd: this.rbd,
      snapshot: this.state.snapshot,
      size: this.size,
      image,
      written,
      settings: this.state.options.verify,
      sampler: this.sampler,
      logger: this.context.logger,
      signal: this.context.signal,
      onProgress: this.context.onProgress,
    });
  }

  /** Keeps only the newest complete revision's snapshot: the base of the next differential backup. */
  async finish(outcome: { success: boolean }): Promise<void> {
    await this.sampler.close();
    const keep = outcome.success ? this.state.snapshot : this.state.parentSnapshot;
    await cleanUpSnapshots(this.rbd, keep, this.context.logger, this.state.snapshots);
  }
}
