/**
 * The temporary file a restore writes beside its target: one a killed
 * restore left is removed by the next restore to that target, one another
 * running restore holds is left alone, and a long target name still fits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backy } from '../helpers/cli.js';

function job(dir: string): { job: string; source: string } {
  const source = join(dir, 'vm.img');
  writeFileSync(source, randomBytes(1024 * 1024));
  const path = join(dir, 'job');
  assert.equal(backy(['-b', path, 'init', '--store', 'cow', 'file', source]).status, 0);
  assert.equal(backy(['-b', path, 'backup', 'daily']).status, 0);
  return { job: path, source };
}

/** Another process holding the kernel lock a running restore holds on its temporary file, until its stdin closes. */
async function holdLock(path: string): Promise<() => Promise<void>> {
  const repository = fileURLToPath(new URL('../../..', import.meta.url));
  const script = `import fsx from 'fs-native-extensions'; import { openSync } from 'node:fs';
    const fd = openSync(${JSON.stringify(path)}, 'r+'); if (!fsx.tryLock(fd)) process.exit(3);
    process.stdout.write('locked\\n'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repository, stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code}`)));
  });
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin.end();
    await exited;
  };
}

test('a restore removes the temporary file a killed restore to the same target left, and leaves one another restore holds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-restore-temporary-'));
  try {
    const { job: path, source } = job(dir);
    const stale = join(dir, '.restored.img.restore-0badf00d.tmp');
    const held = join(dir, '.restored.img.restore-5eedbeef.tmp');
    const other = join(dir, '.other.img.restore-0badf00d.tmp');
    for (const file of [stale, held, other]) writeFileSync(file, 'part of an image');
    const release = await holdLock(held);
    try {
      const restore = backy(['-b', path, 'restore', join(dir, 'restored.img')]);
      assert.equal(restore.status, 0, restore.stderr);
      assert.ok(readFileSync(join(dir, 'restored.img')).equals(readFileSync(source)));
      assert.ok(!existsSync(stale), 'the killed restore\'s file is still there');
      assert.ok(existsSync(held), 'the running restore\'s file was removed');
      assert.ok(existsSync(other), 'a file of a restore to another target was removed');
      assert.match(restore.stdout, /removing \S+\.restored\.img\.restore-0badf00d\.tmp, left by an earlier restore to \S+restored\.img that did not finish/);
    } finally {
      await release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a target name of 250 characters is restored to, its temporary file named within NAME_MAX', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-restore-temporary-'));
  try {
    const { job: path, source } = job(dir);
    const target = join(dir, `${'r'.repeat(246)}.img`);
    const restore = backy(['-b', path, 'restore', target]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.ok(readFileSync(target).equals(readFileSync(source)));
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.tmp')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
