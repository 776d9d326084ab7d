import { AbortedError } from './errors.js';

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new AbortedError(String(signal.reason ?? 'interrupted'));
  }
}
