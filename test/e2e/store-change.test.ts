/**
 * A job that changes store: its next backup is a full one into the new
 * store, and the revisions made before stay readable in the old one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, readRevisionYaml, revisionIds, writeAt } from '../helpers/job-files.js';
import { mountLoopFilesystem } from '../helpers/loop-fs.js';

function ok(args: string[]) {
  const result = backy(args);
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

test('a cow job on btrfs changed to chunked: a full backup into the chunked store, the cow revision still restores', () => {
  const fs = mountLoopFilesystem('btrfs', '256M');
  try {
    const source = join(fs.path, 'vm.img');
    const job = join(fs.path, 'job');
    writeFileSync(source, randomBytes(6 * 1024 * 1024));
    const init = ok(['-b', job, 'init', 'file', source]);
    assert.match(init.stdout, /INFO .* supports reflinks: revisions are image files sharing unchanged blocks \(store: cow\)\n/);
    ok(['-b', job, 'backup', 'daily']);
    const [cow] = revisionIds(job);
    const before = readFileSync(source);

    writeFileSync(join(job, 'config'), `${readFileSync(join(job, 'config'), 'utf8')}store: chunked\n`);
    writeAt(source, 65536, randomBytes(4096));
    const changed = ok(['-b', job, 'backup', 'daily']);
    assert.match(changed.stdout, new RegExp(`INFO parent revision ${cow} is in the cow store: this backup is a full one into the chunked store`));
    const chunked = revisionIds(job).find((id) => id !== cow)!;
    assert.equal(readRevisionYaml(job, chunked).stats.clone, 'empty');
    assert.ok(existsSync(join(job, cow!)) && existsSync(join(job, `${chunked}.index`)));
    // find names the image file of the cow revision, which is still one, whatever the job's store now is.
    assert.equal(ok(['-b', job, 'find', '-r', cow!]).stdout, `${join(job, cow!)}\n`);

    for (const [id, expected] of [[cow!, before], [chunked, readFileSync(source)]] as const) {
      const target = join(fs.path, `restored-${id}.img`);
      ok(['-b', job, 'restore', '-r', id, target]);
      assert.ok(readFileSync(target).equals(expected), `revision ${id} restores from its own store`);
      rmSync(target);
    }
    assert.equal(ok(['-b', job, 'verify', '--all']).stdout.split('\n').filter((l) => l.includes('verified')).length, 2);
    // The next one is incremental again, within the chunked store.
    ok(['-b', job, 'backup', 'daily']);
    const third = revisionIds(job).find((id) => id !== cow && id !== chunked)!;
    assert.equal(readRevisionYaml(job, third).stats.clone, 'chunks');
  } finally {
    fs.dispose();
  }
});

test('a chunked job changed to cow: find does not name an image file its chunked revision never had, nor does last', () => {
  const fs = mountLoopFilesystem('btrfs', '256M');
  try {
    const source = join(fs.path, 'vm.img');
    const job = join(fs.path, 'job');
    writeFileSync(source, randomBytes(2 * 1024 * 1024));
    ok(['-b', job, 'init', '--store', 'chunked', 'file', source]);
    ok(['-b', job, 'backup', 'daily']);
    const [chunked] = revisionIds(job);
    writeFileSync(join(job, 'config'), readFileSync(join(job, 'config'), 'utf8').replace(/^store: chunked$/m, 'store: cow'));
    assert.match(readFileSync(join(job, 'config'), 'utf8'), /^store: cow$/m);
    const find = backy(['-b', job, 'find', '-r', chunked!]);
    assertOneLineError(find, new RegExp(`^backy: revision ${chunked} has no image file \\(it is kept in the chunked store\\); get one with 'backy restore -r ${chunked} FILE'$`), 'find of a chunked revision in a cow job');
    assert.equal(find.stdout, '');
    // A backup into the cow store, then the chunked revision is the newest again once the cow one is gone.
    ok(['-b', job, 'backup', 'daily']);
    const cow = revisionIds(job).find((id) => id !== chunked)!;
    assert.equal(ok(['-b', job, 'find', '-r', cow]).stdout, `${join(job, cow)}\n`);
    assert.equal(readlinkSync(join(job, 'last')), cow);
  } finally {
    fs.dispose();
  }
});
