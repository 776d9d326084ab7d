import type { Writable } from 'node:stream';
import type { Clock } from '../util/clock.js';
import { throwIfAborted } from '../util/abort.js';
import { BackyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { ProgressListener } from '../sources/source.js';
import { RbdTarget, type RbdRun } from '../sources/ceph-rbd/rbd-target.js';
import { pipeChunks, type Chunk } from '../io/chunk-pipeline.js';
import { isZero } from '../io/zero.js';
import { HASH_BLOCK_SIZE } from '../integrity/block-hash.js';
import { DamageError, hashCheck } from '../integrity/hash-check.js';
import { exportRevision } from '../serve/revision-export.js';
import { distrustRevision } from './damage.js';
import { openRevision, selectRevision, type OpenedRevision } from './revision-data.js';
import { startRestoreWatchdog } from './rbd-restore-watchdog.js';
import { removeUnfinishedImage } from './rbd-unfinished-image.js';
import type { Revision } from './revision.js';

export interface RbdRestoreOptions {
  spec?: string;
  pool: string;
  image: string;
  /** Usable at once: served over HTTP to Ceph's import-only live migration. */
  instant: boolean;
  /** Where the HTTP source listens (`--http-listen`); port 0: any free port. */
  httpListen: { host: string; port: number };
  logger: Logger;
  clock: Clock;
  signal: AbortSignal;
  onProgress: ProgressListener;
  env?: NodeJS.ProcessEnv;
}

/**
 * `backy restore --rbd POOL/IMAGE [--instant]`: a new RBD image holding the
 * revision, every block proven against its recorded hash on the way. An
 * image of that name that exists is never written or removed; an image
 * this restore made and could not finish is removed again.
 */
export async function restoreToRbd(path: string, options: RbdRestoreOptions): Promise<Revision> {
  const selected = await selectRevision(path, options.spec, options.logger, options.clock.now());
  const { revision } = selected;
  const env = options.env ?? process.env;
  const probe = new RbdTarget(options.pool, options.image, env);
  const refusal = new BackyError(`refusing to restore into ${probe.spec}: the image exists (choose a new name, or remove it with rbd rm)`);
  if (await probe.exists()) throw refusal;
  const data = await openRevision(selected, options.logger);
  // Started before the image is made: killed with SIGKILL from here on, the restore leaves no image behind either.
  const watchdog = startRestoreWatchdog(options.pool, options.image, options.instant, env);
  const target = new RbdTarget(options.pool, options.image, env, [watchdog.pipe]);
  try {
    options.logger.info(`restoring revision ${revision.uuid} into a new RBD image ${target.spec}${options.instant ? ' (instant: usable once the migration is prepared)' : ''}`);
    if (options.instant) await instant(target, data, revision, refusal, options);
    else await streamed(target, data, revision, refusal, options);
    return revision;
  } catch (err) {
    if (err instanceof RevisionDamaged) await distrustRevision(selected.job, revision.uuid, `block at offset ${err.offset} does not match its recorded hash`, options.logger);
    throw err;
  } finally {
    await watchdog.release();
    await data.close();
  }
}

/** Only the data: `rbd import-diff` of a diff stream of the revision's non-zero blocks into an image made for it. */
async function streamed(target: RbdTarget, data: OpenedRevision, revision: Revision, refusal: BackyError, options: RbdRestoreOptions): Promise<void> {
  const size = data.reader.size;
  if ((await target.create(size)) === 'exists') throw refusal;
  let run: RbdRun | null = null;
  // A write into a pipe rbd does not read never returns: stopping rbd is what ends it.
  const stop = () => run?.stop();
  options.signal.addEventListener('abort', stop, { once: true });
  try {
    run = target.importDiff();
    const stdin = run.stdin;
    const header = Buffer.alloc(21);
    header.write('rbd diff v1\ns', 0, 'latin1');
    header.writeBigUInt64LE(BigInt(size), 13);
    await send(stdin, header);
    try {
      await pipeChunks(data.reader, { check: data.record ? hashCheck(data.record) : undefined, write: (chunk) => sendData(stdin, chunk) }, {
        signal: options.signal,
        onProgress: (done, total) => options.onProgress('restore', done, total),
      });
      await send(stdin, Buffer.from('e'));
      stdin.end();
    } catch (err) {
      run.stop();
      const failure = await run.outcome();
      throwIfAborted(options.signal);
      throw err instanceof DamageError ? damaged(revision, err.offset, target) : (failure ?? err);
    }
    const failure = await run.outcome();
    if (failure) throw failure;
  } catch (err) {
    await removeUnfinishedImage(target, false, options.logger);
    throw err;
  } finally {
    options.signal.removeEventListener('abort', stop);
  }
}

/**
 * The revision served over HTTP Range requests behind a random path, and
 * Ceph's import-only migration from it: the image can be used as soon as
 * `prepare` returns, while `execute` copies the rest; after `commit` the
 * server stops. Interrupted or failing before the commit, the migration
 * is aborted, which takes the new image with it.
 */
async function instant(target: RbdTarget, data: OpenedRevision, revision: Revision, refusal: BackyError, options: RbdRestoreOptions): Promise<void> {
  const { logger } = options;
  let damage: number | null = null;
  // The HTTP server (fastify) is loaded only for --instant: other restores start without it.
  const { HttpRangeSource } = await import('../serve/http-range-source.js');
  const { image, pool } = await exportRevision(data, { id: revision.uuid, writable: false, logger, onDamage: (offset) => (damage ??= offset) });
  const source = new HttpRangeSource(image, pool, logger);
  let prepared = false;
  try {
    const url = await source.listen(options.httpListen.host, options.httpListen.port);
    logger.debug(`HTTP source for the migration listening on ${url.slice(0, url.lastIndexOf('/'))}/…`);
    if ((await target.prepareImport(url)) === 'exists') throw refusal;
    prepared = true;
    logger.info(`RBD image ${target.spec} is usable now; copying revision ${revision.uuid} into it`);
    throwIfAborted(options.signal);
    const run = target.execute((percent) => options.onProgress('restore', Math.round((image.size * percent) / 100), image.size));
    // Starved of data, rbd ends and closes the image; killed, it would block the abort for 30 s.
    const stop = () => {
      source.refuse();
      setTimeout(() => run.stop(), STOP_EXECUTE_MS).unref();
    };
    options.signal.addEventListener('abort', stop, { once: true });
    const failure = await run.outcome().finally(() => options.signal.removeEventListener('abort', stop));
    throwIfAborted(options.signal);
    if (damage !== null) throw damaged(revision, damage, target);
    if (failure) throw failure;
    await target.commit();
    prepared = false;
    options.onProgress('restore', image.size, image.size);
    logger.info(`migration into ${target.spec} committed: the image holds revision ${revision.uuid} on its own`);
  } catch (err) {
    if (prepared) await removeUnfinishedImage(target, true, logger);
    throw err;
  } finally {
    await source.close();
  }
}

class RevisionDamaged extends BackyError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

function damaged(revision: Revision, offset: number, target: RbdTarget): RevisionDamaged {
  return new RevisionDamaged(`revision ${revision.uuid} is damaged: block at offset ${offset} does not match its recorded hash; nothing was restored to ${target.spec}`, offset);
}

/** How long an interrupted `migration execute` may take to fail by itself before it is killed. */
const STOP_EXECUTE_MS = 20_000;

/** `w` records for the chunk's non-zero blocks, runs of them merged: zeros are what a new image holds already. */
async function sendData(stdin: Writable, chunk: Chunk): Promise<void> {
  const data = chunk.data;
  if (!data) return;
  let runStart = -1;
  const flush = async (end: number) => {
    if (runStart < 0) return;
    const record = Buffer.alloc(17);
    record.write('w', 0, 'latin1');
    record.writeBigUInt64LE(BigInt(chunk.offset + runStart), 1);
    record.writeBigUInt64LE(BigInt(end - runStart), 9);
    await send(stdin, record);
    // Awaited until the pipe took it all: the chunk's buffer may be reused after that.
    await send(stdin, data.subarray(runStart, end));
    runStart = -1;
  };
  for (let at = 0; at < data.length; at += HASH_BLOCK_SIZE) {
    const end = Math.min(data.length, at + HASH_BLOCK_SIZE);
    if (isZero(data.subarray(at, end))) await flush(at);
    else if (runStart < 0) runStart = at;
  }
  await flush(data.length);
}

function send(stream: Writable, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(bytes, (err) => (err ? reject(err) : resolve()));
  });
}
