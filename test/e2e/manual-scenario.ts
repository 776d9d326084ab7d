/**
 * The manual's commands as one scenario, run on a real btrfs (reflinks) and
 * a real ext4 (no reflinks: the sparse-copy fallback) by
 * `manual-btrfs.test.ts` and `manual-ext4.test.ts`: init, several backups
 * while the source changes, then every revision restored byte for byte to a
 * file, to stdout and onto a real block device.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { formatBytes } from '../../src/util/units.js';
import { backy } from '../helpers/cli.js';
import { backyToFile, readRevisionYaml, revisionIds, writeAt } from '../helpers/job-files.js';
import { attachLoopDevice, blockDeviceSize, exclusiveBytes, mountLoopFilesystem, type FsType } from '../helpers/loop-fs.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 64 * KiB;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const REVISION_ID = /^[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{22}$/;
const LOG_LINE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \[\d+\] (DEBUG|INFO|WARN|ERROR) \S/;
const FALLBACK_WARNING = /WARN .*no reflink support/;

interface Step {
  what: string;
  tags: string;
  /** Changes the source file before the backup. */
  change(source: string): void;
  bytesWritten: number;
}

const steps: Step[] = [
  { what: 'first backup of 24 MiB', tags: 'daily,weekly', change: (s) => writeFileSync(s, randomBytes(24 * MiB)), bytesWritten: 24 * MiB },
  {
    what: '16 random 64 KiB blocks rewritten',
    tags: 'daily',
    change: (s) => {
      const blocks = new Set<number>();
      while (blocks.size < 16) blocks.add(randomInt(0, (24 * MiB) / BLOCK));
      for (const block of blocks) writeAt(s, block * BLOCK, randomBytes(BLOCK));
    },
    bytesWritten: 16 * BLOCK,
  },
  { what: 'source grown by 8 MiB', tags: 'hourly', change: (s) => writeAt(s, 24 * MiB, randomBytes(8 * MiB)), bytesWritten: 8 * MiB },
  { what: '8 MiB zeroed', tags: 'daily', change: (s) => writeAt(s, 4 * MiB, Buffer.alloc(8 * MiB)), bytesWritten: 0 },
  // Not a multiple of any block size: the image's tail is a partial block from here on.
  { what: 'source shrunk to 20 MiB + 12345 bytes', tags: 'weekly', change: (s) => truncateSync(s, 20 * MiB + 12345), bytesWritten: 0 },
  {
    what: 'two unaligned 64 KiB writes (two blocks each)',
    tags: 'daily, monthly',
    change: (s) => {
      writeAt(s, 1 * MiB + 1000, randomBytes(BLOCK));
      writeAt(s, 14 * MiB + 3, randomBytes(BLOCK));
    },
    bytesWritten: 4 * BLOCK,
  },
];

/** Bytes in the file's 64 KiB blocks that are not all zeros (what a full sparse copy writes). */
function nonZeroBlockBytes(path: string): number {
  const data = readFileSync(path);
  let total = 0;
  for (let at = 0; at < data.length; at += BLOCK) {
    const block = data.subarray(at, Math.min(data.length, at + BLOCK));
    if (block.some((byte) => byte !== 0)) total += block.length;
  }
  return total;
}

/** Bytes the file really occupies (holes excluded). */
function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}

function ok(args: string[], options: { cwd?: string } = {}) {
  const result = backy(args, options);
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

/** `initArgs`: options for `backy init` (ext4 names the cow store: its default there is chunked). */
export async function manualScenario(type: FsType, initArgs: string[] = []): Promise<void> {
  const fs = mountLoopFilesystem(type, '512M');
  const saved = mkdtempSync(join(tmpdir(), 'backy-e2e-saved-'));
  let device: ReturnType<typeof attachLoopDevice> | undefined;
  try {
    const source = join(fs.path, 'vm1.img');
    const job = join(fs.path, 'backy', 'vm1');
    writeFileSync(source, '');

    const init = ok(['-b', job, 'init', ...initArgs, 'file', source]);
    assert.equal(init.stderr, '');
    assert.deepEqual(YAML.parse(readFileSync(join(job, 'config'), 'utf8')), { type: 'file', filename: source });

    // --- backups ---------------------------------------------------------
    const ids: string[] = [];
    const copies: string[] = [];
    let writtenTotal = 0;
    for (const [index, step] of steps.entries()) {
      step.change(source);
      const copy = join(saved, `source-${index}.img`);
      copyFileSync(source, copy);
      copies.push(copy);

      const before = Date.now();
      const result = ok(['-b', job, 'backup', step.tags]);
      const after = Date.now();
      assert.equal(result.stderr, '', `${step.what}: nothing on stderr`);
      const logLines = result.stdout.split('\n').filter((l) => l.length > 0);
      for (const line of logLines) assert.match(line, LOG_LINE, `${step.what}: log line`);

      const newIds = revisionIds(job).filter((id) => !ids.includes(id));
      assert.equal(newIds.length, 1, `${step.what}: exactly one new revision`);
      const id = newIds[0]!;
      const image = join(job, id);
      const rev = readRevisionYaml(job, id);
      assert.match(id, REVISION_ID);
      assert.equal(rev.uuid, id);
      assert.match(String(rev.timestamp), ISO_UTC, `${step.what}: timestamp is ISO 8601 UTC`);
      const stamp = new Date(String(rev.timestamp)).getTime();
      assert.ok(stamp >= before - 1000 && stamp <= after, `${step.what}: timestamp ${String(rev.timestamp)} taken during the backup`);
      assert.equal(rev.parent, ids.at(-1) ?? '', `${step.what}: parent`);
      assert.deepEqual(rev.tags, step.tags.split(',').map((t) => t.trim()), `${step.what}: tags`);
      // Without reflinks every revision is written whole: its non-zero blocks.
      const expectedWritten = type === 'btrfs' || index === 0 ? step.bytesWritten : nonZeroBlockBytes(copy);
      assert.equal(rev.stats.bytes_written, expectedWritten, `${step.what}: bytes_written`);
      writtenTotal += expectedWritten;
      assert.equal(typeof rev.stats.duration, 'number', `${step.what}: duration recorded`);
      assert.ok((rev.stats.duration as number) >= 0);
      assert.equal(statSync(image).size, statSync(source).size, `${step.what}: image size follows the source`);
      assert.equal(statSync(image).mode & 0o777, 0o440, `${step.what}: image is read-only`);
      assert.equal(readlinkSync(join(job, 'last')), id, `${step.what}: last`);
      assert.equal(readlinkSync(join(job, 'last.rev')), `${id}.rev`, `${step.what}: last.rev`);
      assert.ok(readFileSync(image).equals(readFileSync(copy)), `${step.what}: image equals the source`);

      const warnings = logLines.filter((l) => FALLBACK_WARNING.test(l));
      if (type === 'btrfs') {
        assert.equal(rev.stats.clone, index === 0 ? 'empty' : 'reflink');
        assert.equal(warnings.length, 0, `${step.what}: no fallback warning on btrfs`);
      } else {
        // Nothing to share for the first revision; every later one is a full sparse copy, said once.
        assert.equal(rev.stats.clone, index === 0 ? 'empty' : 'copy');
        assert.equal(warnings.length, index === 0 ? 0 : 1, `${step.what}: fallback warning once (${result.stdout})`);
      }
      ids.push(id);
    }

    // Shared extents (btrfs): an incremental revision owns only what changed.
    if (type === 'btrfs') {
      const changed = [1, 5] as const;
      for (const index of changed) {
        const image = join(job, ids[index]!);
        const exclusive = exclusiveBytes(image);
        assert.ok(
          exclusive <= 2 * steps[index]!.bytesWritten,
          `revision ${index}: ${exclusive} exclusive bytes for ${steps[index]!.bytesWritten} changed`,
        );
        assert.ok(exclusive < statSync(image).size / 8, `revision ${index} shares most of its image with its parent`);
      }
    }
    // The zeroed 8 MiB became a hole, in the zeroing revision and the ones after it.
    assert.ok(allocatedBytes(join(job, ids[3]!)) <= 24 * MiB + 256 * KiB, `zeroed region is a hole (${allocatedBytes(join(job, ids[3]!))} bytes allocated)`);
    assert.ok(allocatedBytes(join(job, ids[4]!)) <= 12 * MiB + 256 * KiB, 'hole kept after shrinking');

    // --- status and find ---------------------------------------------------
    const status = ok(['-b', job, 'status']);
    assert.equal(status.stderr, '');
    const rows = status.stdout.split('\n').filter((l) => /^\| \d{4}-/.test(l));
    assert.deepEqual(
      rows.map((r) => r.split('|')[2]!.trim()),
      ids,
      'status lists every revision, oldest first',
    );
    assert.deepEqual(
      rows.map((r) => r.split('|')[5]!.trim()),
      steps.map((s) => s.tags.split(',').map((t) => t.trim()).join(',')),
    );
    assert.equal(
      status.stdout.trimEnd().split('\n').at(-1),
      `6 revisions containing ${type === 'btrfs' ? '33.25 MiB' : formatBytes(writtenTotal)} data (estimated)`,
    );

    const find = (...spec: string[]) => ok(['-b', job, 'find', ...spec]).stdout;
    assert.equal(find(), `${join(job, ids[5]!)}\n`);
    assert.equal(find('-r', 'daily'), `${join(job, ids[5]!)}\n`);
    assert.equal(find('-r', 'weekly'), `${join(job, ids[4]!)}\n`);
    assert.equal(find('-r', 'hourly'), `${join(job, ids[2]!)}\n`);
    assert.equal(find('-r', '5'), `${join(job, ids[0]!)}\n`);
    assert.equal(find('-r', ids[1]!), `${join(job, ids[1]!)}\n`);
    const prefix = shortestUniquePrefix(ids[3]!, ids);
    assert.equal(find('-r', prefix), `${join(job, ids[3]!)}\n`, `prefix ${prefix}`);

    // --- restores of every revision ----------------------------------------
    const deviceFile = join(saved, 'disk.img');
    const deviceSize = 40 * MiB;
    writeFileSync(deviceFile, randomBytes(deviceSize));
    device = attachLoopDevice(deviceFile);
    const restoreDir = join(fs.path, 'restored');
    mkdirSync(restoreDir);
    for (const [index, id] of ids.entries()) {
      const relative = String(ids.length - 1 - index);
      const expected = readFileSync(copies[index]!);
      const what = `revision ${index} (${steps[index]!.what})`;

      // To a file: on another filesystem (a sparse copy) or beside the job (a reflink on btrfs).
      const target = index % 2 === 1 ? join(restoreDir, `${index}.img`) : join(saved, `restored-${index}.img`);
      const restored = ok(['-b', job, 'restore', '-r', relative, target]);
      assert.equal(restored.stderr, '');
      assert.ok(readFileSync(target).equals(expected), `${what}: restore -r ${relative} ${target}`);
      if (index === 4) {
        const allocated = allocatedBytes(target);
        assert.ok(allocated <= 12 * MiB + 256 * KiB, `restored file is sparse (${allocated} bytes allocated)`);
      }
      rmSync(target);

      // To stdout, redirected into a file: nothing but the image's bytes.
      const piped = join(saved, `piped-${index}.img`);
      const streamed = backyToFile(['-b', job, 'restore', '-r', id, '-'], piped);
      assert.equal(streamed.status, 0, streamed.stderr);
      assert.ok(readFileSync(piped).equals(expected), `${what}: restore -`);
      assert.match(streamed.stderr, /INFO restoring revision/, 'logs go to stderr');

      // Onto a block device, in place: the rest of the device keeps its bytes.
      const previous: Buffer = readFileSync(device.device);
      const onDevice = ok(['-b', job, 'restore', '-r', id, device.device]);
      assert.equal(onDevice.stderr, '');
      const now: Buffer = readFileSync(device.device);
      assert.equal(now.length, deviceSize);
      assert.equal(blockDeviceSize(device.device), deviceSize, 'the device keeps its size');
      assert.ok(now.subarray(0, expected.length).equals(expected), `${what}: restored onto ${device.device}`);
      assert.ok(now.subarray(expected.length).equals(previous.subarray(expected.length)), `${what}: bytes beyond the image untouched`);
      rmSync(piped);
    }

    // Nothing of the above changed the job: every image is still read-only.
    for (const id of ids) assert.equal(statSync(join(job, id)).mode & 0o777, 0o440);
    assert.deepEqual(revisionIds(job).sort(), [...ids].sort());
  } finally {
    device?.detach();
    fs.dispose();
    rmSync(saved, { recursive: true, force: true });
  }
}

/** The shortest prefix only `id` starts with; all digits would be read as a relative number. */
function shortestUniquePrefix(id: string, all: string[]): string {
  for (let length = 1; length <= id.length; length++) {
    const prefix = id.slice(0, length);
    if (/^\d+$/.test(prefix)) continue;
    if (all.filter((other) => other.startsWith(prefix)).length === 1) return prefix;
  }
  return id;
}
