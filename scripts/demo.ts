/**
 * The built-in example: backs up a sample disk image, changes it, backs it
 * up again, shows `status`, restores both revisions and proves each restore
 * is identical to the image as it was backed up.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const backy = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'backy-demo-'));
const image = join(work, 'vm-disk.img');
const job = join(work, 'backups', 'vm');
const MiB = 1024 * 1024;

function run(...args: string[]): string {
  console.log(`$ backy ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [backy, ...args], { encoding: 'utf8' });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.status !== 0) throw new Error(`backy ${args[0]} failed with exit status ${result.status}`);
  return result.stdout;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A 64 MiB "disk": a boot sector, text, random blocks and long zero runs. */
function writeSampleDisk(): void {
  const fd = openSync(image, 'w');
  ftruncateSync(fd, 64 * MiB);
  const text = Buffer.from('backy demo filesystem block\n'.repeat(2000));
  writeSync(fd, Buffer.from('BACKY-DEMO-BOOT-SECTOR'), 0, undefined, 0);
  for (let i = 0; i < 16; i++) writeSync(fd, text, 0, text.length, (4 + i * 3) * MiB);
  let seed = 42;
  const random = Buffer.alloc(MiB);
  for (let i = 0; i < random.length; i++) random[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 8; i++) writeSync(fd, random, 0, random.length, (40 + i * 2) * MiB);
  closeSync(fd);
}

function changeSampleDisk(): void {
  const fd = openSync(image, 'r+');
  const changed = Buffer.alloc(64 * 1024, 0x5a);
  for (const at of [1, 17, 33, 49]) writeSync(fd, changed, 0, changed.length, at * MiB);
  closeSync(fd);
}

try {
  writeSampleDisk();
  console.log(`# a sample 64 MiB disk image: ${image}\n`);
  run('-b', job, 'init', 'file', image);
  run('-b', job, 'backup', 'daily,weekly');
  const first = sha256(image);
  console.log('\n# the VM writes to its disk: 4 blocks of 64 KiB change\n');
  changeSampleDisk();
  run('-b', job, 'backup', 'daily');
  const second = sha256(image);
  console.log('');
  run('-b', job, 'status');
  console.log('');
  let ok = true;
  for (const [spec, expected] of [['1', first], ['last', second]] as const) {
    const target = join(work, `restored-${spec}.img`);
    run('-b', job, 'restore', '-r', spec, target);
    const same = sha256(target) === expected;
    ok &&= same;
    console.log(`${same ? 'identical' : 'DIFFERENT'}: revision ${spec} restored, sha256 ${sha256(target).slice(0, 16)}… ` +
      `${same ? '=' : '!='} the image as backed up\n`);
  }
  console.log(ok ? 'demo passed: every restore is identical to what was backed up' : 'demo FAILED');
  process.exitCode = ok ? 0 : 1;
} finally {
  if (keep) console.log(`(kept ${work})`);
  else rmSync(work, { recursive: true, force: true });
}
