import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteLabels, secondLabels } from './axis-labels.js';

const MiB = 1024 * 1024;

test('axis labels: sizes in the unit of the largest tick, never two ticks alike', () => {
  // uPlot's ticks are round in bytes, not in the binary units.
  assert.deepEqual(byteLabels([250_000, 300_000, 350_000, 400_000]), ['244 KiB', '293 KiB', '342 KiB', '391 KiB']);
  assert.deepEqual(byteLabels([0.25 * MiB, 0.5 * MiB, 0.75 * MiB, MiB, 1.25 * MiB]), ['0.25 MiB', '0.50 MiB', '0.75 MiB', '1.00 MiB', '1.25 MiB']);
  assert.deepEqual(byteLabels([1_000_000, 1_000_500, 1_001_000]), ['976.6 KiB', '977.1 KiB', '977.5 KiB']);
  assert.deepEqual(byteLabels([2 * MiB, 4 * MiB, 6 * MiB]), ['2 MiB', '4 MiB', '6 MiB']);
  assert.deepEqual(byteLabels([512 * 1024, 768 * 1024, MiB]), ['0.50 MiB', '0.75 MiB', '1.00 MiB']);
  assert.deepEqual(byteLabels([0, 500, 1000]), ['0 Bytes', '500 Bytes', '1000 Bytes']);
  assert.deepEqual(byteLabels([5 * 1024 ** 3, 10 * 1024 ** 3]), ['5 GiB', '10 GiB']);
  assert.deepEqual(byteLabels([]), []);
});

test('axis labels: seconds with the decimals their step needs', () => {
  assert.deepEqual(secondLabels([0.1, 0.15, 0.2, 0.25]), ['0.10 s', '0.15 s', '0.20 s', '0.25 s']);
  assert.deepEqual(secondLabels([20, 30, 40]), ['20 s', '30 s', '40 s']);
  assert.deepEqual(secondLabels([0.5, 1, 1.5]), ['0.5 s', '1.0 s', '1.5 s']);
  assert.deepEqual(secondLabels([7]), ['7 s']);
});

test('axis labels: ticks 1, 2 or 5 times a power of ten apart, as uPlot chooses them, never read alike', () => {
  for (let power = 0; power <= 11; power++) {
    for (const factor of [1, 2, 5]) {
      const step = factor * 10 ** power;
      for (const start of [0, 7 * step, 123 * step]) {
        const ticks = [0, 1, 2, 3, 4].map((i) => start + i * step);
        const labels = byteLabels(ticks);
        assert.equal(new Set(labels).size, ticks.length, `${labels.join(', ')} for ${ticks.join(', ')}`);
        const seconds = secondLabels(ticks.map((t) => t / 1e6));
        assert.equal(new Set(seconds).size, ticks.length, seconds.join(', '));
      }
    }
  }
});
