/** backy 2.x's units, spelt as it spells them (`kiB`, up to `TiB`): status tables read the same as before. */
const UNITS = ['kiB', 'MiB', 'GiB', 'TiB'];

/** `0 Bytes`, `1 Byte`, `512 Bytes`, `149.31 MiB`, `10.00 GiB`, `1024.00 TiB` (binary units, as backy 2.x prints them). */
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
