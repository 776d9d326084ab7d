const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `0 Bytes`, `1 Byte`, `512 Bytes`, `149.31 MiB`, `10.00 GiB` (binary units). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} ${bytes === 1 ? 'Byte' : 'Bytes'}`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(2)} ${UNITS[unit]}`;
}

/** `150.9 s`: durations in status tables. */
export function formatSeconds(seconds: number): string {
  return `${seconds.toFixed(1)} s`;
}
