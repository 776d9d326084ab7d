import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isComplete, parseRevision, parseTimestamp, revisionDuration, serializeRevision, type Revision } from './revision.js';

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
      'timestamp: 2015-11-04 20:09:32.583452\nuuid: Q5N5Ng5kFzNFVv6FDDDCHi\n',
    'Q5N5Ng5kFzNFVv6FDDDCHi.rev',
  );
  assert.deepEqual(revision, {
    uuid: 'Q5N5Ng5kFzNFVv6FDDDCHi',
    timestamp: new Date('2015-11-04T20:09:32.583Z'),
    parent: null,
    tags: ['daily', 'weekly'],
    stats: { bytes_written: 10737418240, duration: 150.9 },
  });
  assert.ok(isComplete(revision));
  assert.equal(revisionDuration(revision), 150.9);
});

test('a revision without a duration is incomplete and shows zero', () => {
  const revision = parseRevision('uuid: abc\ntimestamp: 2026-01-01T00:00:00Z\nparent: x\ntags: [hourly]\nstats: {}\n', 'abc.rev');
  assert.equal(revision.parent, 'x');
  assert.equal(isComplete(revision), false);
  assert.equal(revisionDuration(revision), 0);
});

test('serialize and parse round trip, with an ISO UTC timestamp and an empty parent', () => {
  const revision: Revision = {
    uuid: 'FqZGAe6iG2hadwJoHdpigW',
    timestamp: new Date('2026-05-06T07:08:09.123Z'),
    parent: null,
    tags: ['daily', 'weekly'],
    stats: { bytes_written: 65536, duration: 1.5, clone: 'reflink' },
  };
  const text = serializeRevision(revision);
  assert.match(text, /^timestamp: 2026-05-06T07:08:09\.123Z$/m);
  assert.match(text, /^parent: ''$/m);
  assert.deepEqual(parseRevision(text, 'x.rev'), revision);
  const child = { ...revision, uuid: 'ENpdQfhQVgzoiWwT4KuQqP', parent: revision.uuid };
  assert.deepEqual(parseRevision(serializeRevision(child), 'y.rev'), child);
});

test('broken .rev files are errors naming the file', () => {
  assert.throws(() => parseRevision('just text', 'a.rev'), /a\.rev/);
  assert.throws(() => parseRevision('timestamp: 2026-01-01T00:00:00Z\n', 'b.rev'), /b\.rev: no uuid/);
  assert.throws(() => parseRevision('uuid: x\ntimestamp: soon\n', 'c.rev'), /c\.rev: invalid timestamp/);
});
