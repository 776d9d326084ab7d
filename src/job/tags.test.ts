import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackyError } from '../util/errors.js';
import { parseTags } from './tags.js';

test('comma-separated tags, blanks around them ignored, duplicates once, order kept', () => {
  assert.deepEqual(parseTags('daily'), ['daily']);
  assert.deepEqual(parseTags('daily,weekly'), ['daily', 'weekly']);
  assert.deepEqual(parseTags(' daily , weekly\t'), ['daily', 'weekly']);
  assert.deepEqual(parseTags('weekly,daily,weekly'), ['weekly', 'daily']);
  assert.deepEqual(parseTags('manual-2.0_x'), ['manual-2.0_x']);
});

test('empty tags are refused with the argument in the message', () => {
  for (const argument of ['', ' ', 'daily,,weekly', 'daily,', ',daily']) {
    assert.throws(
      () => parseTags(argument),
      (err: unknown) => err instanceof BackyError && err.message.includes(JSON.stringify(argument)) && /empty tag/.test(err.message),
      JSON.stringify(argument),
    );
  }
});

test('characters outside [A-Za-z0-9_.-] are refused naming the tag', () => {
  for (const [argument, bad] of [
    ['da ily', 'da ily'],
    ['daily;rm', 'daily;rm'],
    ['daily,we/ekly', 'we/ekly'],
    ['täglich', 'täglich'],
    ['$(reboot)', '$(reboot)'],
  ]) {
    assert.throws(
      () => parseTags(argument!),
      (err: unknown) => err instanceof BackyError && err.message.includes(JSON.stringify(bad)) && !err.message.includes('\n'),
      argument,
    );
  }
});
