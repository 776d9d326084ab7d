import { alignedBuffer, zeroFill } from './native-io.js';

/** A shared all-zero buffer to compare blocks against and write zeros from; never written to. */
export const ZERO_BLOCK = alignedBuffer(8 * 1024 * 1024);
zeroFill(ZERO_BLOCK);

export function isZero(data: Buffer): boolean {
  for (let offset = 0; offset < data.length; offset += ZERO_BLOCK.length) {
    const piece = data.subarray(offset, Math.min(data.length, offset + ZERO_BLOCK.length));
    if (!piece.equals(ZERO_BLOCK.subarray(0, piece.length))) return false;
  }
  return true;
}
