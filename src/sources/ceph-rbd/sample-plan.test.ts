import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planSample } from './sample-plan.js';

/** A deterministic generator (LCG) so plans are reproducible. */
function seeded(seed: number): (max: number) => number {
  let state = seed;
  return (max) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return Math.floor((state / 2147483648) * max);
  };
}

const KiB = 1024;
const MiB = 1024 * KiB;

function covered(extents: Array<[number, number]>): number {
  return extents.reduce((sum, [, length]) => sum + length, 0);
}

describe('planSample', () => {
  it('reads the percentage: half from the written ranges, half uniformly, plus the last block', () => {
    const size = 1024 * MiB;
    const written: Array<[number, number]> = [[100 * MiB, 110 * MiB]];
    const plan = planSample({ size, percent: 1, written, random: seeded(1) });
    const blocks = plan.flatMap(([offset, length]) => Array.from({ length: length / (64 * KiB) }, (_, i) => offset + i * 64 * KiB));
    const inWritten = blocks.filter((b) => b >= 100 * MiB && b < 110 * MiB).length;
    // 1% of 1 GiB in 64 KiB blocks is 164: 82 draws from the 160 written blocks (some repeat), 82 uniform.
    assert.ok(inWritten >= 50 && inWritten <= 90, `blocks from the written range: ${inWritten}`);
    assert.ok(blocks.length >= 82 + 50 && blocks.length <= 164 + 1, `blocks: ${blocks.length}`);
    assert.ok(blocks.includes(size - 64 * KiB), 'the last block is in the sample');
    for (let i = 1; i < plan.length; i++) assert.ok(plan[i]![0] >= plan[i - 1]![0] + plan[i - 1]![1], 'ascending, no overlap');
  });

  it('draws uniformly when the backup wrote nothing', () => {
    const plan = planSample({ size: 1024 * MiB, percent: 1, written: [], random: seeded(6) });
    assert.ok([164, 165].includes(covered(plan) / (64 * KiB)), `blocks: ${covered(plan) / (64 * KiB)}`);
  });

  it('covers a small image completely', () => {
    assert.deepEqual(planSample({ size: 100 * KiB, percent: 1, written: [], random: seeded(2) }), [[0, 100 * KiB]]);
  });

  it('reads a short last block only up to the end of the image', () => {
    const size = 10 * MiB + 5000;
    const plan = planSample({ size, percent: 0.1, written: [], random: seeded(3) });
    const last = plan.at(-1)!;
    assert.equal(last[0] + last[1], size);
    assert.ok(plan.every(([offset, length]) => offset % (64 * KiB) === 0 && offset + length <= size));
  });

  it('never draws more from the written ranges than they have blocks', () => {
    const plan = planSample({ size: 64 * MiB, percent: 10, written: [[0, 1]], random: seeded(4) });
    // 103 blocks wanted: block 0 for the one written byte (not 51 tries at it), 52 uniform, the last block.
    assert.ok(covered(plan) <= (1 + 52 + 1) * 64 * KiB, `bytes: ${covered(plan)}`);
    assert.equal(plan[0]![0], 0);
  });

  it('plans nothing for an empty image', () => {
    assert.deepEqual(planSample({ size: 0, percent: 1, written: [], random: seeded(5) }), []);
  });
});
