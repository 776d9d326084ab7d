import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPython } from '../../test/helpers/cpython.js';
import { PythonRandom } from './python-random.js';

type Draw = ['bits' | 'below', number];

function draw(seed: bigint, draws: readonly Draw[]): number[] {
  const random = new PythonRandom(seed);
  return draws.map(([kind, n]) => (kind === 'bits' ? random.getrandbits(n) : random.randbelow(n)));
}

const DRAWS: Draw[] = [
  ['bits', 32],
  ['bits', 32],
  ['bits', 32],
  ['bits', 1],
  ['bits', 53],
  ['below', 86401],
];

test("CPython's numbers, literally: random.Random(seed) then getrandbits(32) x 3, getrandbits(1), getrandbits(53), randrange(86401)", () => {
  assert.deepEqual(draw(0n, DRAWS), [3626764237, 1654615998, 3255389356, 1, 364648824738901, 33936]);
  assert.deepEqual(draw(1n, DRAWS), [577090037, 2444712010, 3639700191, 1, 568416432208836, 33432]);
  // Seeds of two and of four 32-bit words.
  assert.deepEqual(draw(2n ** 32n, DRAWS), [485306839, 1508871100, 1794561286, 1, 205557206411035, 80179]);
  assert.deepEqual(draw(2n ** 128n - 1n, DRAWS), [1009630920, 3360221056, 3623212703, 0, 6328882930699957, 63590]);
  assert.deepEqual(draw(19650218n, DRAWS), [988895412, 2669632109, 3855445707, 1, 5811014201290710, 38607]);
});

test('the same numbers as the installed CPython for seeds of 1 to 9 words and draws of every width', (t) => {
  const seeds: bigint[] = [0n, 1n, 2n, 0xffffffffn, 2n ** 32n, 2n ** 96n - 1n, 2n ** 96n, 2n ** 288n - 12345n];
  for (let i = 0n; i < 40n; i++) seeds.push((i * 0x9e3779b97f4a7c15f39cc0605cedc835n) % 2n ** (4n * i + 1n));
  const draws: Draw[] = [];
  for (let k = 1; k <= 53; k++) draws.push(['bits', k]);
  // Bounds just above a power of two reject about half of all draws.
  for (const n of [1, 2, 3, 5, 7, 60, 3600, 65537, 86401, 604801, 2592001, 31536001, 2 ** 32 + 1, 2 ** 40 + 3, 2 ** 53 - 1]) draws.push(['below', n]);
  const expected = runPython(
    `import json, random, sys
out = []
for seed, draws in json.load(sys.stdin):
    r = random.Random(int(seed))
    out.append([r.getrandbits(n) if kind == 'bits' else r.randrange(n) for kind, n in draws])
print(json.dumps(out))`,
    seeds.map((seed) => [seed.toString(), draws]),
  );
  if (expected === null) return t.skip('python3 is not installed');
  assert.deepEqual(
    seeds.map((seed) => draw(seed, draws)),
    expected,
  );
});

test('randint includes both ends; bad arguments are refused', () => {
  const random = new PythonRandom(7n);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(random.randint(3, 5));
  assert.deepEqual([...seen].sort(), [3, 4, 5]);
  assert.equal(new PythonRandom(7n).randint(0, 0), 0);
  assert.throws(() => random.randint(5, 4), RangeError);
  assert.throws(() => random.randint(0, 1.5), RangeError);
  assert.throws(() => new PythonRandom(-1n), RangeError);
});
