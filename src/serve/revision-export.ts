import type { OpenedRevision } from '../job/revision-data.js';
import type { Logger } from '../util/logger.js';
import { BufferPool } from './buffer-pool.js';
import { CheckedImage } from './checked-image.js';
import type { ExportedImage } from './exported-image.js';
import { OverlayImage } from './overlay-image.js';

/**
 * Pool buffers (one read window each, 1 MiB): all the data a server holds
 * at once, whatever its clients ask; every request holds at most one.
 * Reading and hashing is bound by the CPU: with four nbdcopy clients at
 * once, 8 buffers served 4 GiB as fast as 16 did (7.5 s against 8.0 s),
 * in 141 MiB instead of 153 (48 buffers: 193 MiB).
 */
const POOL_BUFFERS = 8;
/** Damaged blocks named in the log, each once: a client reading one in a loop must not flood it. */
const DAMAGE_LINES = 1000;

export interface RevisionExport {
  image: ExportedImage;
  pool: BufferPool;
}

/**
 * A revision prepared for serving: its reads checked against its recorded
 * hashes (a damaged block is logged and answered with an error, never with
 * its bytes) and, when `writable`, an overlay in TMPDIR that takes writes.
 */
export async function exportRevision(
  data: OpenedRevision,
  options: { id: string; writable: boolean; logger: Logger; onDamage?: (offset: number) => void },
): Promise<RevisionExport> {
  const logged = new Set<number>();
  const onDamage = (offset: number) => {
    options.onDamage?.(offset);
    if (logged.has(offset) || logged.size >= DAMAGE_LINES) return;
    logged.add(offset);
    options.logger.error(`revision ${options.id}: block at offset ${offset} does not match its recorded hash; the client gets an I/O error, not its bytes`);
  };
  const checked = new CheckedImage(data.reader, data.record, onDamage);
  const pool = new BufferPool(checked.window, POOL_BUFFERS);
  if (!options.writable) return { image: checked, pool };
  return { image: await OverlayImage.create(checked), pool };
}
