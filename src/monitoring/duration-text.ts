const UNITS: ReadonlyArray<[string, number]> = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/**
 * A span of time for people: the two largest non-zero units, whole seconds
 * (`45s`, `12m 5s`, `2h`, `3d 4h`). Used for ages, uptimes and elapsed
 * times in the check line and the telnet shell.
 */
export function formatSpan(seconds: number): string {
  let rest = Math.max(0, Math.floor(seconds));
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of UNITS) {
    if (parts.length === 2) break;
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) parts.push(`${count}${unit}`);
    // Only adjacent units: "3d 4h", never "3d 5s".
    else if (parts.length > 0) break;
  }
  return parts.join(' ');
}
