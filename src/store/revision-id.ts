import { randomBytes } from 'node:crypto';

/** shortuuid's alphabet: no 0, 1, I, O or l, which are easy to misread. */
export const BASE57_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
export const REVISION_ID_LENGTH = 22;
/**
 * backy's own IDs, and the decimal ones the original backy's tests and
 * fixtures use (`uuid: 1`). Nothing else: an ID becomes a file name in the
 * job directory, so it can never be `config`, `last`, a path or a dotfile.
 */
const REVISION_ID_PATTERN = new RegExp(`^(?:[${BASE57_ALPHABET}]{${REVISION_ID_LENGTH}}|[0-9]{1,20})$`);

/** A random 122-bit (UUID v4) identifier in base57, as backy 2.0 made them. */
export function newRevisionId(): string {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  let value = BigInt(`0x${bytes.toString('hex')}`);
  let id = '';
  const base = BigInt(BASE57_ALPHABET.length);
  while (value > 0n) {
    id = BASE57_ALPHABET[Number(value % base)] + id;
    value /= base;
  }
  return id.padStart(REVISION_ID_LENGTH, BASE57_ALPHABET[0]);
}

export function isRevisionId(name: string): boolean {
  return REVISION_ID_PATTERN.test(name);
}

const GENERATED_ID_PATTERN = new RegExp(`^[${BASE57_ALPHABET}]{${REVISION_ID_LENGTH}}$`);

/**
 * An ID of the kind newRevisionId makes. A decimal name is an ID only where
 * a `.rev` says so: `2024` in a job directory may just as well be an
 * operator's file.
 */
export function isGeneratedRevisionId(name: string): boolean {
  return GENERATED_ID_PATTERN.test(name);
}

/** Guards every place an ID is joined onto a directory: a bug, never a user's file, could pass anything else. */
export function assertRevisionId(id: string): string {
  if (!isRevisionId(id)) throw new Error(`not a revision ID: ${JSON.stringify(id)}`);
  return id;
}
