/**
 * How long a failed job waits before the next attempt: 2 minutes after the
 * first failure, doubling with each further one, at most 6 hours.
 */
export const FIRST_RETRY_SECONDS = 2 * 60;
export const LONGEST_RETRY_SECONDS = 6 * 3600;

export function retryDelaySeconds(consecutiveFailures: number): number {
  const doublings = Math.max(0, consecutiveFailures - 1);
  // Stop doubling once past the cap so that huge counts cannot overflow.
  if (doublings >= 20) return LONGEST_RETRY_SECONDS;
  return Math.min(FIRST_RETRY_SECONDS * 2 ** doublings, LONGEST_RETRY_SECONDS);
}
