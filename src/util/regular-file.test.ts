import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METADATA_LIMIT, NotRegularFileError, readSmallFileSync } from './regular-file.js';

test('readSmallFileSync: the text of a regular file, through symlinks; anything else refused at once, never blocking', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-regular-'));
  try {
    const file = join(dir, 'a.rev');
    writeFileSync(file, 'uuid: 1\n');
    assert.equal(readSmallFileSync(file), 'uuid: 1\n');
    symlinkSync(file, join(dir, 'link.rev'));
    assert.equal(readSmallFileSync(join(dir, 'link.rev')), 'uuid: 1\n');
    writeFileSync(join(dir, 'empty'), '');
    assert.equal(readSmallFileSync(join(dir, 'empty')), '');
    writeFileSync(join(dir, 'limit'), 'x'.repeat(METADATA_LIMIT));
    assert.equal(readSmallFileSync(join(dir, 'limit')).length, METADATA_LIMIT);
    writeFileSync(join(dir, 'big'), 'x'.repeat(METADATA_LIMIT + 10));
    assert.throws(() => readSmallFileSync(join(dir, 'big')), { message: `it has ${METADATA_LIMIT + 10} bytes, more than the ${METADATA_LIMIT} any such file can have` });
    assert.throws(() => readSmallFileSync(join(dir, 'limit'), 100), { message: `it has ${METADATA_LIMIT} bytes, more than the 100 any such file can have` });
    // The text after a refused one is not left over from it.
    assert.equal(readSmallFileSync(file), 'uuid: 1\n');

    execFileSync('mkfifo', [join(dir, 'fifo.rev')]);
    assert.throws(() => readSmallFileSync(join(dir, 'fifo.rev')), (err) => err instanceof NotRegularFileError && /FIFO/.test(err.message));
    mkdirSync(join(dir, 'dir.rev'));
    assert.throws(() => readSmallFileSync(join(dir, 'dir.rev')), (err) => err instanceof NotRegularFileError && /directory/.test(err.message));
    symlinkSync('/dev/zero', join(dir, 'zero.rev'));
    assert.throws(() => readSmallFileSync(join(dir, 'zero.rev')), (err) => err instanceof NotRegularFileError && /device/.test(err.message));
    symlinkSync(join(dir, 'nothing'), join(dir, 'dangling.rev'));
    assert.throws(() => readSmallFileSync(join(dir, 'dangling.rev')), { code: 'ENOENT', syscall: 'open' });
    symlinkSync('loop.rev', join(dir, 'loop.rev'));
    assert.throws(() => readSmallFileSync(join(dir, 'loop.rev')), { code: 'ELOOP' });
    assert.throws(() => readSmallFileSync(join(dir, 'missing.rev')), { code: 'ENOENT', path: join(dir, 'missing.rev') });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
