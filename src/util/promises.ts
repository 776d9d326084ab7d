/**
 * Marks a promise that is awaited only later as handled, so that failing
 * while something else is awaited is not an unhandled rejection (which
 * ends the process); awaiting it still throws.
 */
export function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
