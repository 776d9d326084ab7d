import { randomInt } from 'node:crypto';
import { BackyError } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';
import { throwIfAborted } from '../../util/abort.js';
import type { ImageReader } from '../../io/image.js';
import type { ProgressListener, VerificationResult } from '../source.js';
import { ByteReader } from './byte-reader.js';
import { consumeRbdStream, type RbdClient } from './rbd-client.js';
import { planSample } from './sample-plan.js';
import type { SnapshotSampler } from './snapshot-sampler.js';
import { alignedBuffer } from '../../io/native-io.js';

export interface VerifySettings {
  mode: 'sample' | 'full';
  /** Percent of the image a sample covers (drawn uniformly; as much again from what the backup wrote). */
  samplePercent: number;
  /** A sample stops after this many seconds; what was read by then counts. */
  timeBudgetSeconds: number;
}

export const DEFAULT_VERIFY_SETTINGS: VerifySettings = { mode: 'sample', samplePercent: 1, timeBudgetSeconds: 300 };

export interface VerifyContext {
  rbd: RbdClient;
  snapshot: string;
  /** The snapshot's size: the image must have exactly this size. */
  size: number;
  image: ImageReader;
  /** Ranges this backup wrote, ascending. */
  written: ReadonlyArray<readonly [number, number]>;
  settings: VerifySettings;
  /** Reads the sample (started early, so it has connected by now). */
  sampler: SnapshotSampler;
  logger: Logger;
  signal: AbortSignal;
  onProgress: ProgressListener;
}

const CHUNK = 4 * 1024 * 1024;

/** Compares the new image with the snapshot it was made from; throws on any difference. */
export async function verifyAgainstSnapshot(context: VerifyContext): Promise<VerificationResult> {
  const { image, size, rbd, snapshot } = context;
  if (image.size !== size) {
    throw new BackyError(`verification failed: the image has ${image.size} bytes, snapshot ${rbd.spec(snapshot)} has ${size}`);
  }
  if (context.settings.mode === 'sample') {
    const sampled = await verifySample(context);
    if (sampled) return sampled;
  }
  return verifyFull(context);
}

/** null when the snapshot cannot be read at random: the caller verifies fully instead. */
async function verifySample(context: VerifyContext): Promise<VerificationResult | null> {
  const { rbd, snapshot, size, image, settings, logger, signal } = context;
  const plan = planSample({ size, percent: settings.samplePercent, written: context.written, random: randomInt });
  const planned = plan.reduce((sum, [, length]) => sum + length, 0);
  const deadline = Date.now() + settings.timeBudgetSeconds * 1000;
  const buffer = alignedBuffer(plan.reduce((max, [, length]) => Math.max(max, length), 0));
  let verified = 0;
  const outcome = await context.sampler.read(plan, async (offset, expected) => {
      throwIfAborted(signal);
      const got = await image.read(buffer, expected.length, offset);
      const actual = buffer.subarray(0, got);
      if (!actual.equals(expected)) throw mismatch(rbd.spec(snapshot), offset + firstDifference(expected, actual));
      verified += expected.length;
      context.onProgress('verify', verified, planned);
      return Date.now() < deadline;
  });
  if (outcome.status === 'unavailable') {
    logger.warn(`cannot read samples of ${rbd.spec(snapshot)} directly (${outcome.reason}); verifying the whole image instead`);
    return null;
  }
  if (outcome.status === 'stopped' && verified < planned) {
    logger.warn(`sample verification stopped after its time budget of ${settings.timeBudgetSeconds} s: ${verified} of ${planned} bytes compared`);
  }
  return { kind: 'sample', bytesVerified: verified, bytesPlanned: planned };
}

/** Streams the whole snapshot and compares every byte. */
async function verifyFull(context: VerifyContext): Promise<VerificationResult> {
  const { rbd, snapshot, size, image, signal } = context;
  const buffer = alignedBuffer(CHUNK);
  const received = alignedBuffer(CHUNK);
  await consumeRbdStream(rbd.export(snapshot, signal), signal, async (stdout) => {
    const reader = new ByteReader(stdout);
    for (let offset = 0; offset < size; ) {
      throwIfAborted(signal);
      const length = Math.min(CHUNK, size - offset);
      const [count, got] = await Promise.all([reader.readInto(received, length), image.read(buffer, length, offset)]);
      const expected = received.subarray(0, count);
      const actual = buffer.subarray(0, got);
      if (count < length) {
        throw new BackyError(`verification failed: rbd export of ${rbd.spec(snapshot)} ended at byte ${offset + count} of ${size}`);
      }
      if (!expected.equals(actual)) throw mismatch(rbd.spec(snapshot), offset + firstDifference(expected, actual));
      offset += length;
      context.onProgress('verify', offset, size);
    }
    if (!(await reader.atEnd())) throw new BackyError(`verification failed: rbd export of ${rbd.spec(snapshot)} is longer than ${size} bytes`);
  });
  return { kind: 'full', bytesVerified: size };
}

function mismatch(spec: string, offset: number): BackyError {
  return new BackyError(`verification failed: the new revision differs from snapshot ${spec} at byte ${offset}`);
}

function firstDifference(a: Buffer, b: Buffer): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return length;
}
