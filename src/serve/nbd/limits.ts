/**
 * How long a client may keep the server's resources without making
 * progress: each bounds what one client can hold (a place among the
 * clients, pool buffers, a shutdown) against all the others. Tests pass
 * shorter ones.
 */
export interface SessionLimits {
  /** From connecting to the end of the handshake, however the bytes trickle in. */
  handshakeMs: number;
  /** Replies waiting on a socket with none of them sent: the client does not read. */
  stalledMs: number;
  /** A write's payload, from its header to its last byte. */
  payloadMs: number;
  /** After a shutdown began, before clients still not done are cut off. */
  closeGraceMs: number;
}

export const DEFAULT_LIMITS: SessionLimits = {
  handshakeMs: 60_000,
  // A client reading at under 1 MiB (a window) in 30 s is not one that reads.
  stalledMs: 30_000,
  // 32 MiB, the largest payload, at over 1 MiB/s.
  payloadMs: 30_000,
  closeGraceMs: 10_000,
};
