import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CORE_SCHEMA, load } from 'js-yaml';
import { parsePlainMapping } from './plain-yaml.js';
import { serializeRevision } from './revision.js';
import { newRevisionId } from '../store/revision-id.js';

/** js-yaml's answer, or the error it throws. */
function full(text: string): unknown {
  try {
    return load(text, { schema: CORE_SCHEMA });
  } catch (err) {
    return err;
  }
}

/** The fast path either steps aside or says exactly what js-yaml says. */
function agrees(text: string): boolean {
  const fast = parsePlainMapping(text);
  if (fast === undefined) return false;
  assert.deepEqual(fast, full(text), `the plain reading of ${JSON.stringify(text)} differs from js-yaml's`);
  return true;
}

const ROUNDS = Number(process.env.PLAIN_YAML_ROUNDS ?? 4000);
const ID = 'Q5N5Ng5kFzNFVv6FDDDCHi';

const TAKEN = [
  // What backy writes.
  serializeRevision({
    uuid: ID,
    timestamp: new Date('2026-01-02T03:04:05.678Z'),
    parent: '4x9QkzRrRBCXxqY3nHQAnE',
    tags: ['daily', 'weekly'],
    stats: { bytes_written: 4096, duration: 1.5, chunks_new: 3 },
    trust: 'distrusted',
    hashes: { algorithm: 'sha256', blockSize: 65536, root: '0123456789abcdef'.repeat(4) },
    verified: new Date('2026-02-01T00:00:00Z'),
  }),
  serializeRevision({ uuid: '17', timestamp: new Date(0), parent: null, tags: [], stats: {}, trust: 'trusted', hashes: null, verified: null }),
  // What backy 2.x wrote, with PyYAML's flow and block styles.
  `parent: ''\nstats: {bytes_written: 10737418240, duration: 150.9}\ntags: [daily, weekly]\ntimestamp: 2015-11-04 20:09:32.583452\nuuid: ${ID}\n`,
  `parent: ${ID}\nstats:\n  bytes_written: 0\n  duration: 0.25\ntags:\n- daily\ntimestamp: 2015-11-05 06:15:09+00:00\ntrust: verified\nuuid: 1\n`,
  `uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: daily\nstats: {duration: '12.5'}\nparent:\n`,
  `uuid: "${ID}"\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\nstats: {}\nflag: true\nnothing: ~\nnone: null\n`,
  `uuid: ${ID}\ntags:\n  - 7\n  - 2xK9\nstats:\n  duration: 1e3\n  odd: 0\n`,
  // Where the scanner's lines and blocks end: without a final newline, a block or an empty value last, empty items.
  `uuid: ${ID}\nstats:\n  a: 1`,
  `uuid: ${ID}\ntags:\n- a`,
  `uuid: ${ID}\nparent:`,
  `parent:\nuuid: ${ID}\n`,
  `tags:\n  - a\n  -\n  - b\nstats:\n  x:\n  y: 2\n`,
  `tags:\n-\n- \n`,
];

const REFUSED = [
  '',
  '\n',
  '- a\n- b\n',
  '[1, 2',
  'uuid: a # comment\n',
  '---\nuuid: a\n',
  'uuid: a\nuuid: b\n',
  "uuid: 'it''s'\n",
  'uuid: "a\\tb"\n',
  'uuid: &anchor a\nother: *anchor\n',
  'tags: [a, ]\n',
  'tags: [[a]]\n',
  'stats:\n  deep:\n    x: 1\n',
  'stats:\n  a: 1\n   b: 2\n',
  'duration: 1_000\n',
  'duration: 0x1f\n',
  'duration: 01\n',
  'duration: 1.\n',
  'duration: .5\n',
  'duration: -1\n',
  'duration: .inf\n',
  'uuid: |\n  text\n',
  'uuid:\ttab\n',
  'uuid: a\r\n',
  'key:value\n',
  'uuid: ünïcode\n',
  'stats: {a: [1]}\n',
  'tags: [a:b]\n',
  'uuid: a\n\nparent: b\n',
  // Found by review: Unicode and other whitespace that trim() takes and YAML keeps (or refuses).
  'a: 1\u00a0\n',
  'a: \u3000\n',
  'a:\n  \u00a0b: 1\n',
  'a: [x\u00a0]\n',
  'a: 1\v\n',
  'a: {\f a: 1}\n',
  '\ufeffa: 1\n',
  'a: b\u2028\n',
  // Keys js-yaml reads as other keys, and one an object would not keep.
  'TRUE: 1\n',
  'TRUE: 1\nTrue: 2\n',
  'Null: 1\nnull: 2\n',
  'a:\n   Null: 1\n',
  'a: {False: 1}\n',
  '__proto__: x\n',
  '__proto__:\n  uuid: Q5N5Ng5kFzNFVv6FDDDCHi\n',
  'tags:\n  -  a\n',
  'tags:\n  - a\n - b\n',
  'tags:\n  - a\n  \n',
  'stats:\n  a: 1\n\n',
  'stats:\n  a:1\n',
  'stats:\n  a: [1]\n',
  ' a: 1\n',
  ':\n',
];

test('the plain subset is read exactly as js-yaml reads it', () => {
  for (const text of TAKEN) assert.ok(agrees(text), `taken: ${JSON.stringify(text)}`);
  for (let i = 0; i < 200; i++) {
    const id = newRevisionId();
    const text = serializeRevision({
      uuid: id,
      timestamp: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000),
      parent: i % 3 === 0 ? null : newRevisionId(),
      tags: ['hourly', ...(i % 5 === 0 ? ['daily'] : [])],
      stats: { bytes_written: i * 4096, duration: i / 7 },
      trust: 'trusted',
      hashes: { algorithm: 'sha256', blockSize: 65536, root: 'f'.repeat(63) + String(i % 10) },
      verified: null,
    });
    // Digits-first IDs that look like numbers are left to js-yaml; the rest are read here.
    agrees(text);
  }
});

test('anything outside the plain subset is left to js-yaml', () => {
  for (const text of REFUSED) assert.equal(parsePlainMapping(text), undefined, JSON.stringify(text));
});

test('damaged copies of real files: the plain reading never differs from js-yaml', () => {
  // A deterministic stream of single-character damage: deletions, duplications and replacements with YAML's special characters.
  const specials = [' ', ':', '-', '#', "'", '"', '[', ']', '{', '}', ',', '\n', '0', 'x', '.', '_', '~', 'e', '&', '*', '!', '|', '>', '%', '@'];
  let seed = 1;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let taken = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let text = TAKEN[random(TAKEN.length)]!;
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(text.length);
      const kind = random(3);
      const char = specials[random(specials.length)]!;
      text = kind === 0 ? text.slice(0, at) + text.slice(at + 1) : kind === 1 ? text.slice(0, at) + char + text.slice(at) : text.slice(0, at) + char + text.slice(at + 1);
    }
    if (agrees(text)) taken++;
  }
  // The damage test means something only if many damaged files are still read by the fast path.
  assert.ok(taken > 500, `only ${taken} damaged files were read by the fast path`);
});
