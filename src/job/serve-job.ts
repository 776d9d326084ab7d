import { once } from 'node:events';
import { BackyError, errorCode } from '../util/errors.js';
import { HASH_BLOCK_SIZE } from '../integrity/block-hash.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import { isLoopback } from '../serve/listen-address.js';
import { NbdServer, type ListenAddress } from '../serve/nbd/server.js';
import { MAXIMUM_PAYLOAD, MINIMUM_BLOCK, transmissionFlags } from '../serve/nbd/export-flags.js';
import { exportRevision } from '../serve/revision-export.js';
import { distrustRevision } from './damage.js';
import { openRevision, selectRevision } from './revision-data.js';

export interface ServeOptions {
  spec?: string;
  listen: ListenAddress;
  writable: boolean;
  logger: Logger;
  clock: Clock;
  /** Aborted on SIGTERM/SIGINT: the server closes its clients and `serveJob` returns. */
  signal: AbortSignal;
  /** Called once, with the NBD URI, when the server takes clients. */
  onListening(uri: string): void;
}

/**
 * `backy serve`: exports one complete revision over NBD until the signal
 * aborts, every read checked against its recorded hashes. Reading only:
 * the job is not locked, backups go on meanwhile.
 */
export async function serveJob(path: string, options: ServeOptions): Promise<void> {
  const { logger } = options;
  const selected = await selectRevision(path, options.spec, logger, options.clock.now());
  const id = selected.revision.uuid;
  const data = await openRevision(selected, logger);
  // The first damaged block a client reads distrusts the revision (logged once per block by the export).
  let distrusting: Promise<void> | null = null;
  try {
    const onDamage = (offset: number) => {
      distrusting ??= distrustRevision(selected.job, id, `block at offset ${offset} does not match its recorded hash (read by an NBD client)`, logger);
    };
    const { image, pool } = await exportRevision(data, { id, writable: options.writable, logger, onDamage });
    const server = new NbdServer({
      image,
      pool,
      logger,
      description: {
        name: id,
        description: `backy revision ${id} of ${selected.job.path}`,
        size: image.size,
        transmissionFlags: transmissionFlags(image.writable),
        minimumBlock: MINIMUM_BLOCK,
        preferredBlock: preferredBlock(data.record?.blockSize ?? HASH_BLOCK_SIZE),
        maximumPayload: MAXIMUM_PAYLOAD,
      },
    });
    if (options.signal.aborted) return;
    const uri = await server.listen(options.listen).catch((err: unknown) => {
      throw listenFailure(err, options.listen);
    });
    if (!isLoopback(options.listen)) logger.warn(`serving on ${uri}: anyone who can reach it can read revision ${id} (NBD has no authentication here)`);
    logger.info(
      `serving revision ${id} (${image.size} bytes) ${options.writable ? 'with writes into a throw-away overlay' : 'read-only'} on ${uri}` +
        (data.record ? '' : ', unchecked'),
    );
    options.onListening(uri);
    if (!options.signal.aborted) await once(options.signal, 'abort');
    logger.info(`stopping: closing ${server.clients} client${server.clients === 1 ? '' : 's'}`);
    await server.close();
  } finally {
    await data.close();
    await distrusting;
  }
}

/** The hash block, as the power of two the protocol wants: reading less costs a whole block's check. */
function preferredBlock(hashBlock: number): number {
  return 2 ** Math.floor(Math.log2(Math.min(Math.max(hashBlock, 4096), MAXIMUM_PAYLOAD)));
}

function listenFailure(err: unknown, address: ListenAddress): BackyError {
  const where = 'path' in address ? address.path : `${address.host}:${address.port}`;
  const code = errorCode(err);
  if (code === 'EADDRINUSE') {
    return new BackyError(`cannot listen on ${where}: ${'path' in address ? 'the path exists (remove it if no server uses it)' : 'the address is in use'}`);
  }
  if (code === 'EADDRNOTAVAIL') return new BackyError(`cannot listen on ${where}: no interface of this machine has that address`);
  if (code === 'EACCES') return new BackyError(`cannot listen on ${where}: permission denied`);
  return new BackyError(`cannot listen on ${where}: ${(err as Error).message}`);
}
