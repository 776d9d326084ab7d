/**
 * Lets the first `burst` reports of each interval through and counts the
 * rest, so that a client repeating what is refused (or a flood of failing
 * connections) cannot grow the log without bound; the count is handed to
 * the next report let through.
 */
export function limitedReports<A extends unknown[]>(
  burst: number,
  intervalMs: number,
  report: (suppressed: number, ...args: A) => void,
  clock: () => number = Date.now,
): (...args: A) => void {
  let windowStart = -Infinity;
  let inWindow = 0;
  let suppressed = 0;
  return (...args) => {
    const now = clock();
    if (now - windowStart >= intervalMs) {
      windowStart = now;
      inWindow = 0;
    }
    if (inWindow >= burst) {
      suppressed++;
      return;
    }
    inWindow++;
    report(suppressed, ...args);
    suppressed = 0;
  };
}

/** ` (and N more since the last report)`, or nothing. */
export function moreSince(suppressed: number): string {
  return suppressed > 0 ? ` (and ${suppressed} more since the last report)` : '';
}
