/**
 * The plots' axis labels (uPlot's `values`): sizes in the binary unit of
 * the largest tick, seconds as they are; with as many decimals as the step
 * between ticks needs, so that no two ticks read the same (0.25 and 0.30
 * MiB both read "0.3 MiB" with one).
 */
const UNITS = ['Bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

/** The fewest decimals (up to 6) that write the step between ticks within 5 %: 0.25 needs 2, 0.488 needs 1. */
function decimalsFor(step: number): number {
  if (!(step > 0) || !Number.isFinite(step)) return 0;
  for (let decimals = 0; decimals < 6; decimals++) {
    const scaled = step * 10 ** decimals;
    if (scaled >= 1 && Math.abs(Math.round(scaled) - scaled) <= 0.05 * scaled) return decimals;
  }
  return 6;
}

function step(ticks: readonly number[]): number {
  return ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : Math.abs(ticks[0] ?? 0);
}

export function byteLabels(ticks: readonly number[]): string[] {
  const largest = Math.max(0, ...ticks.map(Math.abs));
  let unit = 0;
  while (unit < UNITS.length - 1 && largest >= 1024 ** (unit + 1)) unit++;
  const scale = 1024 ** unit;
  const decimals = unit === 0 ? 0 : decimalsFor(step(ticks) / scale);
  return ticks.map((tick) => `${(tick / scale).toFixed(decimals)} ${UNITS[unit]}`);
}

export function secondLabels(ticks: readonly number[]): string[] {
  const decimals = decimalsFor(step(ticks));
  return ticks.map((tick) => `${tick.toFixed(decimals)} s`);
}
