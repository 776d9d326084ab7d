import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveRevisionSpec } from './revision-spec.js';
import type { Revision } from './revision.js';

function rev(uuid: string, minutes: number, tags: string[], complete = true): Revision {
  return {
    uuid,
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, minutes)),
    parent: null,
    tags,
    stats: complete ? { duration: 1, bytes_written: 0 } : {},
    trust: 'trusted',
    hashes: null,
    verified: null,
  };
}

const history = [
  rev('AAAAAAAAAAAAAAAAAAAAAa', 1, ['daily', 'weekly']),
  rev('AAAAAAAAAAAAAAAAAAAAAb', 2, ['daily']),
  rev('BBBBBBBBBBBBBBBBBBBBBB', 3, ['hourly']),
  rev('CCCCCCCCCCCCCCCCCCCCCC', 4, ['hourly'], false),
];

test('relative numbers count back from the newest complete revision', () => {
  assert.equal(resolveRevisionSpec('0', history).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.equal(resolveRevisionSpec('2', history).uuid, 'AAAAAAAAAAAAAAAAAAAAAa');
  assert.throws(() => resolveRevisionSpec('3', history), /revision 3 not found: the job has 3 complete revisions/);
});

test('full IDs, unique prefixes, last/latest and tags resolve; ambiguity is an error', () => {
  assert.equal(resolveRevisionSpec('AAAAAAAAAAAAAAAAAAAAAb', history).uuid, 'AAAAAAAAAAAAAAAAAAAAAb');
  assert.equal(resolveRevisionSpec('BB', history).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.throws(() => resolveRevisionSpec('AAA', history), /ambiguous/);
  assert.equal(resolveRevisionSpec('last', history).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.equal(resolveRevisionSpec('latest', history).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.equal(resolveRevisionSpec(undefined, history).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.equal(resolveRevisionSpec('daily', history).uuid, 'AAAAAAAAAAAAAAAAAAAAAb');
  assert.equal(resolveRevisionSpec('weekly', history).uuid, 'AAAAAAAAAAAAAAAAAAAAAa');
});

test('an incomplete revision named by ID is reported as incomplete; unknown specs name the spec', () => {
  assert.throws(() => resolveRevisionSpec('CCCC', history), /CCCCCCCCCCCCCCCCCCCCCC is incomplete/);
  assert.throws(() => resolveRevisionSpec('monthly', history), /no revision matches "monthly"/);
  assert.throws(() => resolveRevisionSpec('last', []), /no complete revision/);
});

test('a revision dated in the future is found by ID only; unreadable ones named by ID say so', () => {
  const now = new Date(Date.UTC(2026, 0, 1, 0, 5));
  const ahead = [...history, rev('DDDDDDDDDDDDDDDDDDDDDD', 60, ['daily'])];
  assert.equal(resolveRevisionSpec('last', ahead, { now }).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.equal(resolveRevisionSpec('0', ahead, { now }).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.equal(resolveRevisionSpec('daily', ahead, { now }).uuid, 'AAAAAAAAAAAAAAAAAAAAAb');
  assert.equal(resolveRevisionSpec('DDDDDDDDDDDDDDDDDDDDDD', ahead, { now }).uuid, 'DDDDDDDDDDDDDDDDDDDDDD');
  // Within the tolerance for clock skew it is believed.
  assert.equal(resolveRevisionSpec('last', ahead, { now: new Date(Date.UTC(2026, 0, 1, 0, 56)) }).uuid, 'DDDDDDDDDDDDDDDDDDDDDD');
  const unreadable = [{ id: 'EEEEEEEEEEEEEEEEEEEEEE', reason: 'not valid YAML' }];
  assert.throws(() => resolveRevisionSpec('EEEEEEEEEEEEEEEEEEEEEE', history, { unreadable }), /revision EEEEEEEEEEEEEEEEEEEEEE is unreadable: not valid YAML/);
});

test('a prefix is unique only among all the IDs status lists, unreadable ones included', () => {
  const unreadable = [{ id: 'BBBBBBBBBBBBBBBBBBBBBc', reason: 'not valid YAML' }, { id: 'EEEEEEEEEEEEEEEEEEEEEE', reason: 'not valid YAML' }];
  assert.throws(() => resolveRevisionSpec('BB', history, { unreadable }), /revision spec "BB" is ambiguous: it matches BBBBBBBBBBBBBBBBBBBBBB, BBBBBBBBBBBBBBBBBBBBBc/);
  assert.equal(resolveRevisionSpec('BBBBBBBBBBBBBBBBBBBBBB', history, { unreadable }).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
  assert.throws(() => resolveRevisionSpec('EE', history, { unreadable }), /revision EEEEEEEEEEEEEEEEEEEEEE is unreadable: not valid YAML/);
});

test("a number beyond the revisions names a decimal ID, as in backy 2.x's archive lookup", () => {
  const decimal = [rev('1230', 1, ['daily']), rev('1231', 2, ['daily']), rev('1232', 3, ['daily'], false)];
  assert.equal(resolveRevisionSpec('0', decimal).uuid, '1231');
  assert.equal(resolveRevisionSpec('1', decimal).uuid, '1230');
  assert.equal(resolveRevisionSpec('1230', decimal).uuid, '1230');
  assert.throws(() => resolveRevisionSpec('1232', decimal), /revision 1232 is incomplete/);
  // A number is never an ID's prefix, not even a decimal one's.
  assert.throws(() => resolveRevisionSpec('123', decimal), /revision 123 not found: the job has 2 complete revisions/);
  assert.throws(() => resolveRevisionSpec('1239', decimal), /revision 1239 not found: the job has 2 complete revisions/);
  const unreadable = [{ id: '1233', reason: 'not valid YAML' }];
  assert.throws(() => resolveRevisionSpec('1233', decimal, { unreadable }), /revision 1233 is unreadable: not valid YAML/);
});

test('a number beyond the revisions falls through to tags, never to ID prefixes (which IDs start with a digit is chance)', () => {
  const numbered = [rev('28AAAAAAAAAAAAAAAAAAAA', 1, ['7']), rev('BBBBBBBBBBBBBBBBBBBBBB', 2, ['daily'])];
  assert.equal(resolveRevisionSpec('7', numbered).uuid, '28AAAAAAAAAAAAAAAAAAAA');
  assert.throws(() => resolveRevisionSpec('28', numbered), /revision 28 not found: .*a number is never taken for an ID prefix/);
  assert.throws(() => resolveRevisionSpec('2', numbered), /revision 2 not found/);
  assert.equal(resolveRevisionSpec('28A', numbered).uuid, '28AAAAAAAAAAAAAAAAAAAA');
  // Within range, the relative number comes first.
  assert.equal(resolveRevisionSpec('1', numbered).uuid, '28AAAAAAAAAAAAAAAAAAAA');
  assert.equal(resolveRevisionSpec('0', numbered).uuid, 'BBBBBBBBBBBBBBBBBBBBBB');
});
