/**
 * A job directory's contents are data, never instructions: `.rev` files
 * that are garbage, carry paths, wrong types or future dates, images that
 * are missing, unreadable or of the wrong size, symlinks and directories in
 * the place of backy's own files — made by hand on btrfs and on ext4. Each
 * is a clear line, nothing is deleted that could not be read, nothing
 * outside the job directory is touched, and every revision that was
 * complete before restores byte for byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, readRevisionYaml, revisionIds, sameBytes } from '../helpers/job-files.js';
import { useExt4AndBtrfs, type LoopFilesystem } from '../helpers/loop-fs.js';
import { JobDirectory } from '../../src/job/job-directory.js';
import { expireRevisions } from '../../src/scheduler/retention-apply.js';
import { fixedClock } from '../../src/util/clock.js';
import { silentLogger } from '../../src/util/logger.js';

const MiB = 1024 * 1024;
const filesystems = useExt4AndBtrfs('384M');
let counter = 0;

interface Fixture {
  dir: string;
  job: string;
  source: string;
  /** Revision IDs oldest first, with a copy of the source as each was backed up. */
  revisions: Array<{ id: string; copy: string }>;
}

/** A job with `count` complete revisions of a 3 MiB source that changes between them. */
function fixture(fs: LoopFilesystem, count = 2): Fixture {
  const dir = join(fs.path, `hostile-${counter++}`);
  mkdirSync(dir);
  const source = join(dir, 'vm.img');
  const job = join(dir, 'job');
  assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
  const revisions: Fixture['revisions'] = [];
  for (let i = 0; i < count; i++) {
    const content = randomBytes(3 * MiB);
    content.fill(0, MiB, 2 * MiB);
    writeFileSync(source, content);
    const before = new Set(revisionIds(job));
    const result = backy(['-b', job, 'backup', 'daily']);
    assert.equal(result.status, 0, result.stderr);
    const id = revisionIds(job).find((candidate) => !before.has(candidate))!;
    const copy = join(dir, `source-${i}.img`);
    copyFileSync(source, copy);
    revisions.push({ id, copy });
  }
  return { dir, job, source, revisions };
}

/** Restores `id` and proves it equals the source it was made from. */
function assertRestores(f: Fixture, id: string, copy: string): void {
  const target = join(f.dir, `restored-${counter++}.img`);
  const result = backy(['-b', f.job, 'restore', '-r', id, target]);
  assert.equal(result.status, 0, `restore ${id}: ${result.stderr}`);
  assert.ok(sameBytes(target, copy), `revision ${id} restores byte for byte`);
  rmSync(target);
}

function assertAllRestore(f: Fixture): void {
  for (const { id, copy } of f.revisions) assertRestores(f, id, copy);
}

function status(f: Fixture): string {
  const result = backy(['-b', f.job, 'status']);
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

function backupOk(f: Fixture): string {
  const before = new Set(revisionIds(f.job));
  const result = backy(['-b', f.job, 'backup', 'daily']);
  assert.equal(result.status, 0, result.stderr);
  const id = revisionIds(f.job).find((candidate) => !before.has(candidate))!;
  const copy = join(f.dir, `source-${counter++}.img`);
  copyFileSync(f.source, copy);
  f.revisions.push({ id, copy });
  return id;
}

function editRev(f: Fixture, id: string, edit: (data: Record<string, unknown>) => void): void {
  const path = join(f.job, `${id}.rev`);
  const data = readRevisionYaml(f.job, id);
  edit(data);
  rmSync(path);
  writeFileSync(path, YAML.stringify(data));
}

for (const type of ['btrfs', 'ext4'] as const) {
  describe(`a hostile job directory on ${type}`, () => {
    it('a .rev that is garbage never costs its image: listed as unreadable, skipped as parent, left alone', () => {
      const f = fixture(filesystems[type]);
      const [, newest] = f.revisions as [Fixture['revisions'][0], Fixture['revisions'][0]];
      const saved = readFileSync(join(f.job, `${newest.id}.rev`));
      const garbage = ['\u0000\u0001 not yaml: [', 'uuid: 5\n', `uuid: ${newest.id}\ntimestamp: yesterday\n`, `uuid: ${newest.id}\ntimestamp: 2026-01-01T00:00:00Z\nstats: {duration: soon}\n`];
      for (const [index, text] of garbage.entries()) {
        rmSync(join(f.job, `${newest.id}.rev`));
        writeFileSync(join(f.job, `${newest.id}.rev`), text);
        const table = status(f);
        assert.match(table, new RegExp(`\\| -\\s+\\| ${newest.id} \\|.*\\[unreadable \\.rev\\]`), `listed as unreadable: ${JSON.stringify(text)}`);
        assert.match(table, /revisions? containing .* data \(estimated\), 1 unreadable$/m);
        assertOneLineError(backy(['-b', f.job, 'restore', '-r', newest.id, join(f.dir, 'x.img')]), new RegExp(`^backy: revision ${newest.id} is unreadable: `), 'restore of it');
        if (index < garbage.length - 1) continue;
        const made = backupOk(f);
        assert.equal(readRevisionYaml(f.job, made).parent, f.revisions[0]!.id, 'the parent is the newest readable revision');
        assert.ok(existsSync(join(f.job, newest.id)), 'the image beside the unreadable .rev is kept');
      }
      rmSync(join(f.job, `${newest.id}.rev`));
      writeFileSync(join(f.job, `${newest.id}.rev`), saved);
      assertAllRestore(f);
    });

    it('an ID carrying a path is never joined onto one: nothing outside the job is read, written or deleted', () => {
      const f = fixture(filesystems[type]);
      const outside = join(f.dir, 'precious');
      writeFileSync(outside, 'outside the job directory');
      const forged = 'Zz9yXwVuTsRqPnMkJhGfEd';
      // An incomplete revision (no duration) whose uuid points outside: a backup's clean-up once deleted it.
      writeFileSync(join(f.job, `${forged}.rev`), `uuid: ../precious\ntimestamp: 2026-01-01T00:00:00Z\nparent: ''\ntags: [daily]\nstats: {}\n`);
      writeFileSync(join(f.job, 'evil.rev'), `uuid: ../precious\ntimestamp: 2026-01-01T00:00:00Z\ntags: [daily]\nstats: {duration: 1}\n`);
      const made = backupOk(f);
      assert.equal(readFileSync(outside, 'utf8'), 'outside the job directory');
      assert.ok(existsSync(join(f.job, `${forged}.rev`)), 'the forged .rev is reported, not removed');
      assert.match(status(f), new RegExp(`${forged} \\|.*\\[unreadable \\.rev\\]`));
      for (const spec of ['../precious', '../../precious', forged]) {
        const result = backy(['-b', f.job, 'find', '-r', spec]);
        assert.equal(result.status, 1, `find -r ${spec}`);
        assert.doesNotMatch(result.stdout, /precious/);
      }
      assert.notEqual(made, forged);
      assertAllRestore(f);
    });

    it('values of reasonable forms are read as meant: a scalar tag survives retention, a numeric string duration counts', async () => {
      const f = fixture(filesystems[type], 3);
      for (const { id } of f.revisions.slice(0, 2)) {
        editRev(f, id, (data) => {
          data.tags = 'daily';
          (data.stats as Record<string, unknown>).duration = '12.5';
        });
      }
      const schedule = [{ tag: 'daily', intervalSeconds: 86400, keep: 7 }];
      const plan = await expireRevisions(new JobDirectory(f.job), schedule, fixedClock(new Date()), silentLogger);
      assert.deepEqual(plan.remove, [], 'nothing expires within keep');
      assert.equal(revisionIds(f.job).length, 3);
      assert.match(status(f), /12\.5 s \| daily/);
      // Expired by age, the scalar-tagged ones go as they should, the newest stays.
      const later = fixedClock(new Date(Date.now() + 30 * 86400_000));
      const expired = await expireRevisions(new JobDirectory(f.job), [{ tag: 'daily', intervalSeconds: 86400, keep: 1 }], later, silentLogger);
      assert.deepEqual(expired.remove.map((c) => c.uuid).sort(), f.revisions.slice(0, 2).map((r) => r.id).sort());
      assertRestores(f, f.revisions[2]!.id, f.revisions[2]!.copy);
    });

    it('retention never deletes a revision whose .rev it cannot read', async () => {
      const f = fixture(filesystems[type], 3);
      const [oldest] = f.revisions;
      editRev(f, oldest!.id, (data) => {
        data.timestamp = 'a long time ago';
      });
      const later = fixedClock(new Date(Date.now() + 30 * 86400_000));
      await expireRevisions(new JobDirectory(f.job), [{ tag: 'daily', intervalSeconds: 86400, keep: 1 }], later, silentLogger);
      assert.ok(existsSync(join(f.job, oldest!.id)) && existsSync(join(f.job, `${oldest!.id}.rev`)), 'image and .rev kept');
    });

    it('a missing or unreadable newest image never wedges the job', () => {
      for (const damage of ['missing', 'a directory'] as const) {
        const f = fixture(filesystems[type]);
        const newest = f.revisions[1]!;
        const image = join(f.job, newest.id);
        const saved = join(f.dir, 'saved.img');
        copyFileSync(image, saved);
        rmSync(image);
        if (damage === 'a directory') mkdirSync(image);
        assert.match(status(f), new RegExp(`${newest.id} \\|.*\\[data missing\\]`));
        const why = damage === 'missing' ? 'is missing' : 'is unreadable: its image is not a regular file';
        assertOneLineError(backy(['-b', f.job, 'find']), new RegExp(`^backy: the image of revision ${newest.id} ${why}`), `find, image ${damage}`);
        assertOneLineError(backy(['-b', f.job, 'restore', join(f.dir, 'x.img')]), new RegExp(`^backy: cannot read revision ${newest.id}: the image of revision ${newest.id} `), `restore, image ${damage}`);
        assert.ok(!existsSync(join(f.dir, 'x.img')));
        const made = backupOk(f);
        assert.equal(readRevisionYaml(f.job, made).parent, f.revisions[0]!.id, 'the parent is the newest readable revision');
        rmSync(image, { recursive: true, force: true });
        copyFileSync(saved, image);
        assertAllRestore(f);
      }
    });

    it('an image shorter or longer than its .rev records is not restored as if it were whole', () => {
      const f = fixture(filesystems[type]);
      const newest = f.revisions[1]!;
      const image = join(f.job, newest.id);
      const size = statSync(image).size;
      for (const wrong of [size - 65536, size + 4096]) {
        const saved = join(f.dir, 'saved.img');
        copyFileSync(image, saved);
        truncateSync(image, wrong);
        assertOneLineError(
          backy(['-b', f.job, 'restore', join(f.dir, 'y.img')]),
          new RegExp(`^backy: revision ${newest.id} has ${wrong} bytes of data, but its .rev records ${size}: `),
          `image of ${wrong} bytes`,
        );
        assert.ok(!existsSync(join(f.dir, 'y.img')));
        rmSync(image);
        copyFileSync(saved, image);
      }
      assertAllRestore(f);
    });

    it('a revision dated in the future is reported and never taken for the last one', () => {
      const f = fixture(filesystems[type], 3);
      const future = f.revisions[2]!;
      editRev(f, future.id, (data) => {
        data.timestamp = '2099-01-01T00:00:00Z';
      });
      const result = backy(['-b', f.job, 'status']);
      assert.match(result.stdout, new RegExp(`2099-01-01 00:00:00 \\| ${future.id} \\|.*\\[in the future\\]`));
      assert.match(result.stderr, new RegExp(`revision ${future.id} is dated in the future`));
      const found = backy(['-b', f.job, 'find']);
      assert.equal(found.stdout.trim(), join(f.job, f.revisions[1]!.id), 'find gives what was really written last');
      const restored = join(f.dir, 'z.img');
      assert.equal(backy(['-b', f.job, 'restore', restored]).status, 0);
      assert.ok(sameBytes(restored, f.revisions[1]!.copy));
      const made = backupOk(f);
      assert.equal(readRevisionYaml(f.job, made).parent, f.revisions[1]!.id, 'not the parent either');
      assert.equal(lstatSync(join(f.job, 'last')).isSymbolicLink() && readFileSync(join(f.job, 'last')).equals(readFileSync(join(f.job, made))), true);
      assertAllRestore(f);
    });

    it("backy's own files are never followed as symlinks; a directory named last is a warning, not a failed backup", () => {
      const f = fixture(filesystems[type]);
      const victim = join(f.dir, 'victim');
      writeFileSync(victim, 'do not touch');
      const lock = join(f.job, '.backy.lock');
      rmSync(lock, { force: true });
      symlinkSync(victim, lock);
      assertOneLineError(backy(['-b', f.job, 'backup', 'daily']), /^backy: lock file .*\.backy\.lock is a symbolic link; refusing to follow it/, 'symlinked lock');
      unlinkSync(lock);
      const log = join(f.job, 'backy.log');
      rmSync(log, { force: true });
      symlinkSync(victim, log);
      assertOneLineError(backy(['-b', f.job, '-l', log, 'backup', 'daily']), /log file .*backy\.log is a symbolic link/, 'symlinked log');
      unlinkSync(log);
      assert.equal(readFileSync(victim, 'utf8'), 'do not touch');

      rmSync(join(f.job, 'last'));
      mkdirSync(join(f.job, 'last'));
      const before = new Set(revisionIds(f.job));
      const result = backy(['-b', f.job, 'backup', 'daily']);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /WARN .*last is not a symbolic link; leaving it alone/);
      const made = revisionIds(f.job).find((id) => !before.has(id))!;
      assert.equal(typeof readRevisionYaml(f.job, made).stats.duration, 'number', 'the revision is complete');
      f.revisions.push({ id: made, copy: f.revisions[1]!.copy });
      assertAllRestore(f);
    });

    it('restores never write into a job directory, through a link or otherwise', () => {
      const f = fixture(filesystems[type]);
      const image = join(f.job, f.revisions[0]!.id);
      const original = readFileSync(image);
      const links = { toImage: join(f.dir, 'to-image'), dangling: join(f.dir, 'dangling'), chain: join(f.dir, 'chain') };
      symlinkSync(image, links.toImage);
      symlinkSync(join(f.job, 'not-yet-there.img'), links.dangling);
      symlinkSync(links.toImage, links.chain);
      const other = fixture(filesystems[type], 1);
      for (const target of [links.toImage, links.dangling, links.chain, image, join(f.job, 'new.img'), join(other.job, 'new.img')]) {
        assertOneLineError(backy(['-b', f.job, 'restore', '-r', f.revisions[1]!.id, target]), /^backy: refusing to restore into the job directory /, `restore to ${target}`);
      }
      assert.ok(readFileSync(image).equals(original), 'the revision image is unchanged');
      assert.ok(!existsSync(join(f.job, 'not-yet-there.img')) && !existsSync(join(other.job, 'new.img')));
      assertAllRestore(f);
    });

    it('a restore onto an existing file replaces it only when complete', () => {
      const f = fixture(filesystems[type]);
      const target = join(f.dir, 'existing.img');
      writeFileSync(target, 'the old file');
      const newest = f.revisions[1]!;
      // Damage the revision: the restore stops, and the old file is as it was.
      const image = join(f.job, newest.id);
      const saved = join(f.dir, 'saved.img');
      copyFileSync(image, saved);
      const bytes = readFileSync(image);
      bytes[2 * MiB + 100] ^= 0xff;
      rmSync(image);
      writeFileSync(image, bytes);
      const result = backy(['-b', f.job, 'restore', target]);
      assert.equal(result.status, 1);
      assert.match(result.stderr, new RegExp(`revision ${newest.id} is damaged: block at offset ${2 * MiB} does not match its recorded hash`));
      assert.equal(readFileSync(target, 'utf8'), 'the old file');
      rmSync(image);
      copyFileSync(saved, image);
      assert.equal(backy(['-b', f.job, 'restore', target]).status, 0);
      assert.ok(sameBytes(target, newest.copy));
      assert.ok(!readFileSync(target).equals(Buffer.from('the old file')));
    });
  });
}
