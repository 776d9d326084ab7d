/** A shared all-zero buffer to compare blocks against; never written to. */
export const ZERO_BLOCK = Buffer.alloc(8 * 1024 * 1024);

export function isZero(data: Buffer): boolean {
  for (let offset = 0; offset < data.length; offset += ZERO_BLOCK.length) {
    const piece = data.subarray(offset, Math.min(data.length, offset + ZERO_BLOCK.length));
    if (!piece.equals(ZERO_BLOCK.subarray(0, piece.length))) return false;
  }
  return true;
}
