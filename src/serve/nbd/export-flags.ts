import { TX_CAN_MULTI_CONN, TX_HAS_FLAGS, TX_READ_ONLY, TX_SEND_FLUSH, TX_SEND_FUA, TX_SEND_WRITE_ZEROES } from './protocol.js';

/** Reads and writes may be addressed in 512-byte sectors, as every client can. */
export const MINIMUM_BLOCK = 512;
/** 32 MiB, what the protocol says no client should exceed and no server should take for an attack. */
export const MAXIMUM_PAYLOAD = 32 * 1024 * 1024;

/**
 * What the export offers. Several connections of one client may share the
 * work (multi-conn): every connection reads the same revision and writes
 * into the same overlay, with no cache of their own.
 */
export function transmissionFlags(writable: boolean): number {
  const flags = TX_HAS_FLAGS | TX_CAN_MULTI_CONN;
  return writable ? flags | TX_SEND_FLUSH | TX_SEND_FUA | TX_SEND_WRITE_ZEROES : flags | TX_READ_ONLY;
}
