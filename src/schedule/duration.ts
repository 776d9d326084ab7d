/**
 * Schedule intervals as the manual writes them: an integer with one of the
 * suffixes s, m, h, d, w (`30d`, `1w`). Internally: whole seconds.
 */
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 } as const;
type Unit = keyof typeof UNIT_SECONDS;

/**
 * The longest interval a schedule may name: 100 years. Beyond it nothing
 * is meant, and slots far enough out are no valid dates at all (nothing
 * could be planned or logged).
 */
export const MAX_DURATION_SECONDS = 36500 * UNIT_SECONDS.d;

const DURATION_PATTERN = /^(\d+)([smhdw])$/;

/** Seconds of `1d`, `30m`, …; null when the text is not such a duration or is zero. */
export function parseDuration(text: string): number | null {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) return null;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as Unit];
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : null;
}

/** The shortest exact spelling: 86400 → `1d`, 90 → `90s`, 604800 → `1w`. */
export function formatDuration(seconds: number): string {
  const units: Unit[] = ['w', 'd', 'h', 'm'];
  for (const unit of units) {
    const size = UNIT_SECONDS[unit];
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
