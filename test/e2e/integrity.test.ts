/**
 * Every revision proves its bytes: bytes flipped by hand in stored images
 * on btrfs and ext4 are found by `verify` (naming the block), quarantine
 * the revision (`status`), make the next backup a full one whose restore is
 * identical to the source, and stop a restore unless it is forced.
 * Revisions made before hashes were recorded (by an older backy or backy
 * 2.0) are hashed on their first verify.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { backy, backyAsync } from '../helpers/cli.js';
import { assertOneLineError, fingerprintJob, readRevisionYaml, revisionIds, sameBytes, writeAt } from '../helpers/job-files.js';
import { JobDirectory } from '../../src/job/job-directory.js';
import { useExt4AndBtrfs, type LoopFilesystem } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;
const filesystems = useExt4AndBtrfs('384M');
let counter = 0;

interface Job {
  dir: string;
  job: string;
  source: string;
  ids: string[];
  copies: string[];
}

function job(fs: LoopFilesystem, revisions = 2, size = 6 * MiB): Job {
  const dir = join(fs.path, `integrity-${counter++}`);
  mkdirSync(dir);
  const source = join(dir, 'vm.img');
  const path = join(dir, 'job');
  const content = randomBytes(size);
  content.fill(0, MiB, 2 * MiB);
  writeFileSync(source, content);
  assert.equal(backy(['-b', path, 'init', '--store', 'cow', 'file', source]).status, 0);
  const j: Job = { dir, job: path, source, ids: [], copies: [] };
  for (let i = 0; i < revisions; i++) backUp(j);
  return j;
}

function backUp(j: Job, tags = 'daily'): string {
  if (j.ids.length > 0) writeAt(j.source, 3 * MiB + j.ids.length * BLOCK, randomBytes(BLOCK));
  const before = new Set(revisionIds(j.job));
  const result = backy(['-b', j.job, 'backup', tags]);
  assert.equal(result.status, 0, result.stderr);
  const id = revisionIds(j.job).find((candidate) => !before.has(candidate))!;
  const copy = join(j.dir, `copy-${j.ids.length}.img`);
  copyFileSync(j.source, copy);
  j.ids.push(id);
  j.copies.push(copy);
  return id;
}

/** Flips one byte of a stored image in place, as bit rot would. */
function flip(j: Job, id: string, offset: number): void {
  const image = join(j.job, id);
  const byte = readFileSync(image).subarray(offset, offset + 1);
  writeAt(image, offset, Buffer.from([byte[0]! ^ 0x01]));
}

function verify(j: Job, ...args: string[]) {
  return backy(['-b', j.job, 'verify', ...args]);
}

for (const type of ['btrfs', 'ext4'] as const) {
  describe(`integrity on ${type}`, () => {
    it('verify proves a healthy revision and names the first bad block of a damaged one', () => {
      const j = job(filesystems[type]);
      const ok = verify(j);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, new RegExp(`^revision ${j.ids[1]} verified: 6\\.00 MiB in \\d+\\.\\d s\\n$`));
      assert.equal(typeof readRevisionYaml(j.job, j.ids[1]!).verified, 'string', 'the .rev notes when');

      flip(j, j.ids[0]!, 4 * MiB + 12345);
      flip(j, j.ids[0]!, 5 * MiB + 1);
      const all = verify(j, '--all');
      assert.equal(all.status, 1);
      assert.deepEqual(all.stdout.split('\n'), [
        `revision ${j.ids[0]} is damaged: block at offset ${4 * MiB} does not match its recorded hash`,
        `revision ${j.ids[1]} verified: 6.00 MiB in ${/in (\d+\.\d) s/.exec(all.stdout.split('\n')[1]!)?.[1]} s`,
        '',
      ]);
      assert.equal(readRevisionYaml(j.job, j.ids[0]!).trust, 'distrusted');
      assert.match(backy(['-b', j.job, 'status']).stdout, new RegExp(`${j.ids[0]} \\|.*\\| daily \\[distrusted\\] \\|`));
    });

    it('a distrusted newest revision makes the next backup a full one, and that one restores identically', () => {
      const j = job(filesystems[type]);
      flip(j, j.ids[1]!, 100);
      assert.equal(verify(j).status, 1);
      const healed = backUp(j);
      const rev = readRevisionYaml(j.job, healed);
      assert.equal(rev.parent, '', 'no parent: not a clone of the damaged image');
      assert.equal(rev.stats.clone, 'empty');
      const target = join(j.dir, 'healed.img');
      assert.equal(backy(['-b', j.job, 'restore', target]).status, 0);
      assert.ok(sameBytes(target, j.source));
      assert.equal(verify(j).status, 0);
    });

    it('restore stops at a damaged block leaving no file; --force writes it all, warns per block and exits 1', () => {
      const j = job(filesystems[type]);
      flip(j, j.ids[1]!, 2 * MiB + 7);
      flip(j, j.ids[1]!, 4 * MiB + BLOCK + 9);
      const target = join(j.dir, 'restored.img');
      const refused = backy(['-b', j.job, 'restore', target]);
      assertOneLineError(refused, new RegExp(`^backy: revision ${j.ids[1]} is damaged: block at offset ${2 * MiB} does not match its recorded hash; nothing was restored to ${target}`), 'restore of a damaged revision');
      assert.ok(!existsSync(target), 'no half-restored file');
      assert.equal(readRevisionYaml(j.job, j.ids[1]!).trust, 'distrusted', 'restore notes the damage it found, as verify does');
      assert.match(refused.stdout, new RegExp(`WARN revision ${j.ids[1]} is now distrusted: block at offset ${2 * MiB} does not match its recorded hash\\n`));
      const forced = backy(['-b', j.job, 'restore', '--force', target]);
      assert.equal(forced.status, 1);
      const warnings = forced.stdout.split('\n').filter((line) => line.includes('does not match its recorded hash'));
      assert.equal(warnings.length, 2, forced.stdout);
      assert.match(forced.stderr, new RegExp(`revision ${j.ids[1]} is damaged: 2 blocks did not match their recorded hashes \\(the first at offset ${2 * MiB}\\); restored to ${target} anyway`));
      const expected = readFileSync(j.copies[1]!);
      const got = readFileSync(target);
      assert.equal(got.length, expected.length);
      let differing = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) differing++;
      assert.equal(differing, 2, 'exactly the flipped bytes differ');
      // To stdout, damage ends the stream with exit 1 too.
      const piped = backy(['-b', j.job, 'restore', '-']);
      assert.equal(piped.status, 1);
      assert.ok(piped.stdout.length <= 2 * MiB, 'nothing past the damaged block');
    });

    it('revisions made before hashes were recorded are hashed on their first verify, then checked', () => {
      const j = job(filesystems[type]);
      // As the previous release (or backy 2.0) left them: no `hashes` in the .rev, no record.
      for (const id of j.ids) {
        const path = join(j.job, `${id}.rev`);
        const data = YAML.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
        delete data.hashes;
        rmSync(path);
        writeFileSync(path, YAML.stringify(data));
        rmSync(join(j.job, `${id}.hashes`));
      }
      const first = verify(j, '-r', j.ids[0]!);
      assert.equal(first.status, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`^revision ${j.ids[0]} had no recorded hashes \\(made before backy kept them\\): 6\\.00 MiB hashed in \\d+\\.\\d s and recorded; this first pass could not check anything\\n$`));
      assert.equal((readRevisionYaml(j.job, j.ids[0]!).hashes as Record<string, unknown>).algorithm, 'sha256');
      flip(j, j.ids[0]!, 5 * MiB);
      assert.match(verify(j, '-r', j.ids[0]!).stdout, new RegExp(`revision ${j.ids[0]} is damaged: block at offset ${5 * MiB} `));
      // A backup on top of a revision without hashes hashes every block itself.
      const next = backUp(j);
      assert.equal(verify(j, '-r', next).status, 0);
      const target = join(j.dir, 'next.img');
      assert.equal(backy(['-b', j.job, 'restore', '-r', next, target]).status, 0);
      assert.ok(sameBytes(target, j.source));
    });

    it('a missing or truncated hash record is reported as such, not as damage, and changes nothing', () => {
      const j = job(filesystems[type]);
      const record = join(j.job, `${j.ids[1]}.hashes`);
      const saved = readFileSync(record);
      for (const [what, damage] of [
        ['missing', () => rmSync(record)],
        ['truncated', () => truncateSync(record, saved.length - 64)],
        ['damaged', () => writeAt(record, 40, Buffer.from([saved[40]! ^ 1]))],
      ] as const) {
        damage();
        const before = fingerprintJob(j.job);
        const result = verify(j);
        assert.equal(result.status, 1);
        assert.match(result.stdout, new RegExp(`^revision ${j.ids[1]} could not be verified: its hash record is ${what}`));
        assert.deepEqual(fingerprintJob(j.job), before, `nothing changed (${what})`);
        assert.notEqual(readRevisionYaml(j.job, j.ids[1]!).trust, 'distrusted');
        rmSync(record, { force: true });
        writeFileSync(record, saved);
      }
      assert.equal(verify(j).status, 0);
    });

    it('bad input to verify is one line and exit 1', () => {
      const j = job(filesystems[type], 1);
      assertOneLineError(verify(j, '-r', 'nonesuch'), /^backy: no revision matches "nonesuch"/, 'unknown revision');
      assertOneLineError(backy(['-b', j.dir, 'verify']), /^backy: no job configuration at /, 'not a job directory');
      const incomplete = 'Zz9yXwVuTsRqPnMkJhGfEd';
      writeFileSync(join(j.job, `${incomplete}.rev`), `uuid: ${incomplete}\ntimestamp: 2026-01-01T00:00:00Z\ntags: [daily]\nstats: {}\n`);
      assertOneLineError(verify(j, '-r', incomplete), new RegExp(`^backy: revision ${incomplete} is incomplete`), 'incomplete revision');
      assertOneLineError(verify(j, '-r', '0', '--all'), /give -r REVISION or --all, not both/, 'both');
    });

    it('verify reads and notes its outcome while a backup of the same job holds the job lock', async () => {
      const j = job(filesystems[type], 1);
      // The very locks a running backup holds, taken the way it takes them.
      const lock = await new JobDirectory(j.job).lock();
      try {
        flip(j, j.ids[0]!, 3 * MiB);
        const result = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
          const child = backyAsync(['-b', j.job, 'verify']);
          let stdout = '';
          child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
          child.once('exit', (status) => resolve({ status, stdout }));
        });
        assert.equal(result.status, 1);
        assert.match(result.stdout, /is damaged: block at offset 3145728 /);
        assert.equal(readRevisionYaml(j.job, j.ids[0]!).trust, 'distrusted', 'noted without waiting for the backup');
      } finally {
        await lock.release();
      }
    });
  });
}
