import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isComplete, parseRevision, parseTimestamp, revisionDuration, serializeRevision, type Revision } from './revision.js';

const ID = 'Q5N5Ng5kFzNFVv6FDDDCHi';
const BASE = { trust: 'trusted', hashes: null, verified: null } as const;

test('backy 2.0 timestamps: without a zone they are UTC, fractions are kept to the millisecond', () => {
  assert.equal(parseTimestamp('2015-11-04 20:09:32.583452')?.toISOString(), '2015-11-04T20:09:32.583Z');
  assert.equal(parseTimestamp('2015-11-05 06:15:09+00:00')?.toISOString(), '2015-11-05T06:15:09.000Z');
  assert.equal(parseTimestamp('2015-11-05 06:15:09')?.toISOString(), '2015-11-05T06:15:09.000Z');
  assert.equal(parseTimestamp('2015-11-05 08:15:09+02:00')?.toISOString(), '2015-11-05T06:15:09.000Z');
  assert.equal(parseTimestamp('2015-11-05 01:15:09.5-0500')?.toISOString(), '2015-11-05T06:15:09.500Z');
  assert.equal(parseTimestamp('2026-01-02T03:04:05.678Z')?.toISOString(), '2026-01-02T03:04:05.678Z');
});

test('timestamps that are not timestamps are refused', () => {
  for (const value of ['', 'yesterday', '2015-13-45 99:99:99', '2015-11-05', 1446704109, null, undefined]) {
    assert.equal(parseTimestamp(value), null, String(value));
  }
});

test('a .rev file as backy 2.0 wrote it', () => {
  const revision = parseRevision(
    "parent: ''\nstats: {bytes_written: 10737418240, duration: 150.9}\ntags: [daily, weekly]\n" +
      `timestamp: 2015-11-04 20:09:32.583452\nuuid: ${ID}\n`,
    ID,
  );
  assert.deepEqual(revision, {
    uuid: ID,
    timestamp: new Date('2015-11-04T20:09:32.583Z'),
    parent: null,
    tags: ['daily', 'weekly'],
    stats: { bytes_written: 10737418240, duration: 150.9 },
    ...BASE,
    timestampAsWritten: '2015-11-04 20:09:32.583452',
  });
  assert.ok(isComplete(revision));
  assert.equal(revisionDuration(revision), 150.9);
  // Rewritten (verify, retention), it keeps backy 2.0's microseconds; a changed time is written anew.
  assert.match(serializeRevision({ ...revision, tags: ['daily'] }), /^timestamp: 2015-11-04 20:09:32\.583452$/m);
  assert.match(serializeRevision({ ...revision, timestamp: new Date('2015-11-04T20:09:33Z') }), /^timestamp: 2015-11-04T20:09:33\.000Z$/m);
  assert.equal(parseRevision(serializeRevision(revision), ID).timestampAsWritten, '2015-11-04 20:09:32.583452');
});

test('a revision without a duration is incomplete and shows zero', () => {
  const revision = parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\nparent: ENpdQfhQVgzoiWwT4KuQqP\ntags: [hourly]\nstats: {}\n`, ID);
  assert.equal(revision.parent, 'ENpdQfhQVgzoiWwT4KuQqP');
  assert.equal(isComplete(revision), false);
  assert.equal(revisionDuration(revision), 0);
});

test('serialize and parse round trip, with an ISO UTC timestamp, an empty parent, trust and hashes', () => {
  const revision: Revision = {
    uuid: 'FqZGAe6iG2hadwJoHdpigW',
    timestamp: new Date('2026-05-06T07:08:09.123Z'),
    parent: null,
    tags: ['daily', 'weekly'],
    stats: { bytes_written: 65536, duration: 1.5, clone: 'reflink' },
    ...BASE,
  };
  const text = serializeRevision(revision);
  assert.match(text, /^timestamp: 2026-05-06T07:08:09\.123Z$/m);
  assert.match(text, /^parent: ''$/m);
  assert.doesNotMatch(text, /trust|hashes|verified/);
  assert.deepEqual(parseRevision(text, revision.uuid), revision);
  const child: Revision = {
    ...revision,
    uuid: 'ENpdQfhQVgzoiWwT4KuQqP',
    parent: revision.uuid,
    trust: 'distrusted',
    hashes: { algorithm: 'sha256', blockSize: 65536, root: 'ab'.repeat(32) },
    verified: new Date('2026-05-07T00:00:00.000Z'),
  };
  const childText = serializeRevision(child);
  assert.match(childText, /^trust: distrusted$/m);
  assert.match(childText, /^ {2}block_size: 65536$/m);
  assert.deepEqual(parseRevision(childText, child.uuid), child);
});

test('reasonable forms are read as meant: a scalar tag, numeric strings, a numeric uuid, backy 2.3 trust words', () => {
  const revision = parseRevision(`uuid: 1\ntimestamp: 2026-01-01T00:00:00Z\ntags: daily\nstats: {duration: "12.5", bytes_written: "4096"}\ntrust: verified\n`, '1');
  assert.equal(revision.uuid, '1');
  assert.deepEqual(revision.tags, ['daily']);
  assert.equal(revision.stats.duration, 12.5);
  assert.equal(revision.stats.bytes_written, 4096);
  assert.equal(revision.trust, 'trusted');
  assert.deepEqual(parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: "daily, weekly"\n`, ID).tags, ['daily', 'weekly']);
  // A numeric parent is an ID while YAML can hold it exactly; one beyond 2^53 was rounded and names no revision.
  assert.equal(parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\nparent: 17\n`, ID).parent, '17');
  assert.equal(parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\nparent: 12345678901234567891\n`, ID).parent, null);
  // An empty trust is no mark.
  assert.equal(parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\ntrust:\n`, ID).trust, 'trusted');
});

test('broken .rev files are errors saying what is wrong; a uuid other than the file name is one', () => {
  assert.throws(() => parseRevision('just text', ID), /not a revision file/);
  assert.throws(() => parseRevision('[1, 2', ID), /not valid YAML/);
  assert.throws(() => parseRevision('timestamp: 2026-01-01T00:00:00Z\ntags: []\n', ID), /uuid: expected a revision ID/);
  assert.throws(() => parseRevision(`uuid: ${ID}\ntimestamp: soon\n`, ID), /timestamp: not a time: "soon"/);
  assert.throws(() => parseRevision(`uuid: ${ID}\n`, ID), /timestamp: not a time/);
  assert.throws(() => parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\nstats: {duration: soon}\n`, ID), /stats.duration: expected a number/);
  assert.throws(() => parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: {a: 1}\n`, ID), /tags: expected a list of tags/);
  assert.throws(() => parseRevision(`uuid: ../../etc/passwd\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\n`, ID), /its uuid "..\/..\/etc\/passwd" is not its file name's/);
  assert.throws(() => parseRevision(`uuid: ENpdQfhQVgzoiWwT4KuQqP\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\n`, ID), /is not its file name's/);
  assert.throws(() => parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\ntrust: maybe\n`, ID), /trust/);
  // backy writes no revision without the key; a retention must not read its absence as "no tags left".
  assert.throws(() => parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\n`, ID), /tags: missing/);
  assert.throws(() => parseRevision(`uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags:\n`, ID), /tags: missing/);
  for (const size of [65537, 512, 8 * 1024 * 1024]) {
    const text = `uuid: ${ID}\ntimestamp: 2026-01-01T00:00:00Z\ntags: []\nhashes: {algorithm: sha256, block_size: ${size}, root: ${'ab'.repeat(32)}}\n`;
    assert.throws(() => parseRevision(text, ID), /hashes\.block_size/);
  }
});
