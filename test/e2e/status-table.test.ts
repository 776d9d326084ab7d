/**
 * `backy status` against job directories made by hand with known values:
 * the manual's own example as backy 2.0 wrote it (timestamps without a
 * zone, `parent: ''`, a nested `source:` config), which `status`, `find`,
 * `restore` and a further `backup` must take as it is; and one in today's
 * format with an incomplete revision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { backyToFile, fingerprintJob, readRevisionYaml, revisionIds } from '../helpers/job-files.js';

const MiB = 1024 * 1024;
// A zone far from UTC: timestamps without a zone must still be read as UTC.
const env = { ...process.env, TZ: 'America/New_York' };

/** The manual's example, as backy 2.0 left it on disk (yaml.safe_dump of its metadata). */
const BACKY20_REVISIONS = [
  {
    id: 'Q5N5Ng5kFzNFVv6FDDDCHi',
    rev: "parent: ''\nstats: {bytes_written: 10737418240, duration: 150.9}\ntags: [daily, weekly]\ntimestamp: 2015-11-04 20:09:32.583452\nuuid: Q5N5Ng5kFzNFVv6FDDDCHi\n",
  },
  {
    id: 'FqZGAe6iG2hadwJoHdpigW',
    rev: 'parent: Q5N5Ng5kFzNFVv6FDDDCHi\nstats: {bytes_written: 156562883, duration: 24.9}\ntags: [daily]\ntimestamp: 2015-11-05 06:15:09+00:00\nuuid: FqZGAe6iG2hadwJoHdpigW\n',
  },
  {
    id: 'ENpdQfhQVgzoiWwT4KuQqP',
    rev: 'parent: FqZGAe6iG2hadwJoHdpigW\nstats: {bytes_written: 193976074, duration: 28.7}\ntags: [daily]\ntimestamp: 2015-11-06 06:15:09.218855\nuuid: ENpdQfhQVgzoiWwT4KuQqP\n',
  },
  {
    id: 'ojtLPmKfGNhJQbaJYo6a4C',
    rev: 'parent: ENpdQfhQVgzoiWwT4KuQqP\nstats: {bytes_written: 46776975, duration: 17.7}\ntags: [hourly]\ntimestamp: 2015-11-06 09:49:27+00:00\nuuid: ojtLPmKfGNhJQbaJYo6a4C\n',
  },
];

const MANUAL_STATUS = `+---------------------+------------------------+------------+---------+--------------+
| Date (UTC)          | ID                     |       Size |   Durat | Tags         |
+---------------------+------------------------+------------+---------+--------------+
| 2015-11-04 20:09:32 | Q5N5Ng5kFzNFVv6FDDDCHi |  10.00 GiB | 150.9 s | daily,weekly |
| 2015-11-05 06:15:09 | FqZGAe6iG2hadwJoHdpigW | 149.31 MiB |  24.9 s | daily        |
| 2015-11-06 06:15:09 | ENpdQfhQVgzoiWwT4KuQqP | 184.99 MiB |  28.7 s | daily        |
| 2015-11-06 09:49:27 | ojtLPmKfGNhJQbaJYo6a4C |  44.61 MiB |  17.7 s | hourly       |
+---------------------+------------------------+------------+---------+--------------+
4 revisions containing 10.37 GiB data (estimated)
`;

/** A backy 2.0 job directory; the newest image holds `content`, the older ones are sparse stand-ins. */
function makeBacky20Job(dir: string, sourcePath: string, content: Buffer): string {
  const job = join(dir, 'test03');
  mkdirSync(job);
  writeFileSync(
    join(job, 'config'),
    `schedule:\n  daily: {interval: 1d, keep: 9}\n  hourly: {interval: 1h, keep: 24}\nsource: {filename: ${sourcePath}, type: file}\n`,
  );
  for (const { id, rev } of BACKY20_REVISIONS) {
    writeFileSync(join(job, `${id}.rev`), rev);
    writeFileSync(join(job, id), '');
    truncateSync(join(job, id), content.length);
  }
  const newest = BACKY20_REVISIONS.at(-1)!.id;
  writeFileSync(join(job, newest), content);
  for (const { id } of BACKY20_REVISIONS) chmodSync(join(job, id), 0o440);
  symlinkSync(newest, join(job, 'last'));
  symlinkSync(`${newest}.rev`, join(job, 'last.rev'));
  return job;
}

test('status prints the manual example exactly from a backy 2.0 job directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-status-'));
  try {
    const job = makeBacky20Job(dir, join(dir, 'test03.img'), Buffer.alloc(0));
    const result = backy(['-b', job, 'status'], { env });
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.equal(result.stdout, MANUAL_STATUS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status: exact sizes and durations, incomplete revisions with 0 s (as backy 2.x), oldest first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-status-'));
  try {
    const job = join(dir, 'job');
    mkdirSync(job);
    writeFileSync(join(job, 'config'), 'type: file\nfilename: /srv/vm/disk.img\n');
    const revisions = [
      // Written in a different order than their timestamps.
      ['Xk5mNpQrStUvWxYz23456C', '2026-03-03T08:30:00.500Z', 'stats:\n  bytes_written: 1536\n  duration: 3600.04', 'weekly'],
      ['Ab3dEfGhJkMnPqRsTuVw2A', '2026-03-01T10:00:00.000Z', 'stats:\n  bytes_written: 0\n  duration: 0.04', 'daily'],
      ['Bc4eFgHjKmNpQrStUvWx3B', '2026-03-02T23:59:59.999Z', 'stats:\n  bytes_written: 1\n  duration: 1.26', 'daily'],
      ['Yz6nPqRsTuVwXyZa34567D', '2026-03-04T00:00:01.000Z', 'stats: {}', 'hourly'],
    ] as const;
    for (const [id, timestamp, stats, tag] of revisions) {
      writeFileSync(join(job, `${id}.rev`), `uuid: ${id}\ntimestamp: ${timestamp}\nparent: ""\ntags:\n  - ${tag}\n${stats}\n`);
      writeFileSync(join(job, id), '');
    }
    const result = backy(['-b', job, 'status'], { env });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.equal(
      result.stdout,
      `+---------------------+------------------------+----------+----------+--------+
| Date (UTC)          | ID                     |     Size |    Durat | Tags   |
+---------------------+------------------------+----------+----------+--------+
| 2026-03-01 10:00:00 | Ab3dEfGhJkMnPqRsTuVw2A |  0 Bytes |    0.0 s | daily  |
| 2026-03-02 23:59:59 | Bc4eFgHjKmNpQrStUvWx3B |   1 Byte |    1.3 s | daily  |
| 2026-03-03 08:30:00 | Xk5mNpQrStUvWxYz23456C | 1.50 kiB | 3600.0 s | weekly |
| 2026-03-04 00:00:01 | Yz6nPqRsTuVwXyZa34567D |  0 Bytes |      0 s | hourly |
+---------------------+------------------------+----------+----------+--------+
4 revisions containing 1.50 kiB data (estimated)
`,
    );

    // A job without revisions yet.
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'config'), 'type: file\nfilename: /srv/vm/disk.img\n');
    const none = backy(['-b', empty, 'status']);
    assert.equal(none.status, 0, none.stderr);
    assert.equal(
      none.stdout,
      `+------------+----+------+-------+------+
| Date (UTC) | ID | Size | Durat | Tags |
+------------+----+------+-------+------+
+------------+----+------+-------+------+
0 revisions containing 0 Bytes data (estimated)
`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a backy 2.0 job directory works as it is: find, restore, and a new backup on top', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-compat-'));
  try {
    const source = join(dir, 'test03.img');
    const original = randomBytes(2 * MiB);
    writeFileSync(source, original);
    const job = makeBacky20Job(dir, source, original);
    const before = fingerprintJob(job);
    const path = (id: string) => `${join(job, id)}\n`;
    const find = (...args: string[]) => {
      const result = backy(['-b', job, 'find', ...args], { env });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stderr, '');
      return result.stdout;
    };

    // The manual: "backy -b /my/backydir/test03 find -r daily" prints ENpd…
    assert.equal(find('-r', 'daily'), path('ENpdQfhQVgzoiWwT4KuQqP'));
    assert.equal(find(), path('ojtLPmKfGNhJQbaJYo6a4C'));
    assert.equal(find('-r', 'weekly'), path('Q5N5Ng5kFzNFVv6FDDDCHi'));
    assert.equal(find('-r', '2'), path('FqZGAe6iG2hadwJoHdpigW'));
    assert.equal(find('-r', 'Fq'), path('FqZGAe6iG2hadwJoHdpigW'));

    const restored = join(dir, 'restored.img');
    const toFile = backy(['-b', job, 'restore', '-r', 'hourly', restored], { env });
    assert.equal(toFile.status, 0, toFile.stderr);
    assert.ok(readFileSync(restored).equals(original), 'restore to a file');
    const piped = join(dir, 'piped.img');
    const toStdout = backyToFile(['-b', job, 'restore', '-'], piped);
    assert.equal(toStdout.status, 0, toStdout.stderr);
    assert.ok(readFileSync(piped).equals(original), 'restore -');
    assert.deepEqual(fingerprintJob(job), before, 'reading the job changed nothing');

    // The next backup continues the 2.0 history: its parent is the 2.0 revision.
    const changed = Buffer.from(original);
    randomBytes(64 * 1024).copy(changed, 5 * 64 * 1024);
    writeFileSync(source, changed);
    const result = backy(['-b', job, 'backup', 'daily'], { env });
    assert.equal(result.status, 0, result.stderr);
    const [newId] = revisionIds(job).filter((id) => !BACKY20_REVISIONS.some((r) => r.id === id));
    assert.ok(newId);
    const rev = readRevisionYaml(job, newId);
    assert.equal(rev.parent, 'ojtLPmKfGNhJQbaJYo6a4C');
    // With reflinks only the changed block is written; without (this temp
    // directory may be ext4) the new image is a full sparse copy of the source.
    const expected = rev.stats.clone === 'reflink' ? 64 * 1024 : changed.length;
    assert.equal(rev.stats.bytes_written, expected, `bytes written for a ${String(rev.stats.clone)} image`);
    const after = fingerprintJob(job);
    for (const { id } of BACKY20_REVISIONS) {
      assert.equal(after[id], before[id], `2.0 image ${id} untouched`);
      assert.equal(after[`${id}.rev`], before[`${id}.rev`], `2.0 metadata ${id}.rev untouched`);
    }
    const status = backy(['-b', job, 'status'], { env });
    assert.equal(status.status, 0, status.stderr);
    assert.ok(status.stdout.startsWith(MANUAL_STATUS.split('\n').slice(0, 7).join('\n')), status.stdout);
    assert.match(status.stdout, new RegExp(`\\| ${newId} \\| +${expected === 64 * 1024 ? '64\\.00 kiB' : '2\\.00 MiB'} \\| +\\d+\\.\\d s \\| daily +\\|\n`));
    assert.match(status.stdout, /\n5 revisions containing 10\.37 GiB data \(estimated\)\n$/);
    const latest = join(dir, 'latest.img');
    assert.equal(backy(['-b', job, 'restore', latest]).status, 0);
    assert.ok(readFileSync(latest).equals(changed), 'the new revision restores');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("status shows a tag's control characters escaped: a .rev is anyone's to edit, the operator's terminal is not", () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-status-'));
  try {
    const job = join(dir, 'job');
    mkdirSync(job);
    writeFileSync(join(job, 'config'), 'type: file\nfilename: /srv/vm/disk.img\n');
    const id = 'Ab3dEfGhJkMnPqRsTuVw2A';
    // A tag that would clear the screen and one that would start a line of its own.
    const rev = `uuid: ${id}\ntimestamp: 2026-03-01T10:00:00.000Z\nparent: ""\ntags: ["daily\\e[2J", "x\\ny"]\nstats: {bytes_written: 1, duration: 1}\n`;
    writeFileSync(join(job, `${id}.rev`), rev);
    writeFileSync(join(job, id), 'x');
    const result = backy(['-b', job, 'status']);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(!result.stdout.includes('\u001b'), 'no escape character reaches the terminal');
    assert.match(result.stdout, /\| daily\\u001b\[2J,x\\ny \|/);
    assert.equal(result.stdout.split('\n').length, 7, result.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
