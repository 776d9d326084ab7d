import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from './logger.js';

test('control characters in a message (a file name in a job directory) are escaped; line breaks start lines of their own', () => {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line), close: () => undefined }, { now: () => new Date('2026-01-10T10:00:00Z') });
  logger.warn('ignoring /srv/job/evil\r2026-01-10 10:00:00 [1] INFO all good.rev\u001b[2J: not named\tfor a revision ID\nsecond line');
  assert.deepEqual(lines, [
    `2026-01-10 10:00:00 [${process.pid}] WARN ignoring /srv/job/evil\\r2026-01-10 10:00:00 [1] INFO all good.rev\\u001b[2J: not named\tfor a revision ID\n`,
    `2026-01-10 10:00:00 [${process.pid}] WARN second line\n`,
  ]);
});
