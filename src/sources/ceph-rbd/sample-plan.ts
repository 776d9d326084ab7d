/**
 * Which blocks a sample verification reads. Two kinds of mistakes are
 * likely: a transfer that applied the snapshot's changes wrongly (so the
 * sample draws from the ranges this backup wrote), and a base that was
 * already different (the parent image, or a snapshot an admin recreated
 * under backy's name: so the sample also draws uniformly from the whole
 * image). The last block is always included: it shows a wrong size.
 * Half the sample comes from the written ranges, half from anywhere.
 */

export const SAMPLE_BLOCK = 64 * 1024;

export interface SamplePlanInput {
  size: number;
  /** Percent of the image to read: half drawn from `written` (if any), the rest uniformly. */
  percent: number;
  /** Ranges this backup wrote, half-open, ascending; empty for none. */
  written: ReadonlyArray<readonly [number, number]>;
  /** A uniform random integer in [0, max). */
  random: (max: number) => number;
  block?: number;
}

/** Ascending, non-overlapping extents `[offset, length]`, adjacent blocks merged. */
export function planSample(input: SamplePlanInput): Array<[number, number]> {
  const block = input.block ?? SAMPLE_BLOCK;
  const { size } = input;
  if (size === 0) return [];
  const blocks = Math.ceil(size / block);
  const wanted = Math.max(1, Math.ceil((size * input.percent) / 100 / block));
  const chosen = new Set<number>([blocks - 1]);
  if (wanted >= blocks) {
    for (let i = 0; i < blocks; i++) chosen.add(i);
  } else {
    const fromWritten = input.written.some(([start, end]) => end > start) ? Math.floor(wanted / 2) : 0;
    drawFromRanges(chosen, input.written, block, fromWritten, input.random);
    drawUniform(chosen, blocks, wanted - fromWritten, input.random);
  }
  return mergeBlocks([...chosen].sort((a, b) => a - b), block, size);
}

function drawUniform(chosen: Set<number>, blocks: number, count: number, random: (max: number) => number): void {
  const target = Math.min(blocks, chosen.size + count);
  while (chosen.size < target) chosen.add(random(blocks));
}

/** Draws blocks in proportion to how much of each range they cover. */
function drawFromRanges(
  chosen: Set<number>,
  ranges: ReadonlyArray<readonly [number, number]>,
  block: number,
  count: number,
  random: (max: number) => number,
): void {
  const ends: number[] = [];
  let total = 0;
  for (const [start, end] of ranges) {
    total += end - start;
    ends.push(total);
  }
  if (total === 0) return;
  // Never more draws than the ranges have blocks, so this always ends.
  const draws = Math.min(count, Math.ceil(total / block));
  for (let i = 0; i < draws; i++) {
    const at = random(total);
    let lo = 0;
    let hi = ends.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ends[mid]! <= at) lo = mid + 1;
      else hi = mid;
    }
    const rangeStart = ranges[lo]![0];
    const before = lo === 0 ? 0 : ends[lo - 1]!;
    chosen.add(Math.floor((rangeStart + (at - before)) / block));
  }
}

function mergeBlocks(sorted: number[], block: number, size: number): Array<[number, number]> {
  const extents: Array<[number, number]> = [];
  for (const index of sorted) {
    const offset = index * block;
    const length = Math.min(block, size - offset);
    const last = extents.at(-1);
    if (last && last[0] + last[1] === offset && last[1] < 4 * 1024 * 1024) last[1] += length;
    else extents.push([offset, length]);
  }
  return extents;
}
