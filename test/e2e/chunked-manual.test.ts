/**
 * The manual's commands on chunked jobs, as a user runs them: on ext4 the
 * chunked store is the default (said in one log line), on btrfs it is
 * asked for; backups while the source changes, status, find, verify, and
 * every revision restored byte for byte to a file and to stdout.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { backy } from '../helpers/cli.js';
import { backyToFile, readRevisionYaml, revisionIds, writeAt } from '../helpers/job-files.js';
import { useExt4AndBtrfs } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;

/** Chunk files in a pool. */
function countChunks(pool: string): number {
  return readdirSync(join(pool, 'chunks')).reduce((sum, stripe) => sum + readdirSync(join(pool, 'chunks', stripe)).filter((n) => !n.startsWith('.')).length, 0);
}

function ok(args: string[]) {
  const result = backy(args);
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

const changes: Array<{ what: string; change(source: string): void }> = [
  {
    what: 'first backup: 16 MiB of data with a zero run and a repeated block',
    change: (s) => {
      const data = randomBytes(16 * MiB);
      data.fill(0, 4 * MiB, 6 * MiB);
      data.copy(data, 8 * MiB, 0, BLOCK);
      writeFileSync(s, data);
    },
  },
  {
    what: '12 random 64 KiB blocks rewritten',
    change: (s) => {
      const blocks = new Set<number>();
      while (blocks.size < 12) blocks.add(randomInt(0, (16 * MiB) / BLOCK));
      for (const block of blocks) writeAt(s, block * BLOCK, randomBytes(BLOCK));
    },
  },
  { what: 'grown by 3 MiB + 5 bytes', change: (s) => writeAt(s, 16 * MiB, randomBytes(3 * MiB + 5)) },
  { what: 'shrunk to 10 MiB + 777 bytes, one unaligned write', change: (s) => (truncateSync(s, 10 * MiB + 777), writeAt(s, MiB + 3, randomBytes(BLOCK))) },
];

describe('chunked jobs, as the manual uses them', () => {
  const filesystems = useExt4AndBtrfs('512M');
  for (const type of ['ext4', 'btrfs'] as const) {
    it(`on ${type}: backups, status, find, verify and byte-identical restores of every revision`, () => {
      const fs = filesystems[type];
      const saved = mkdtempSync(join(tmpdir(), 'backy-chunked-'));
      try {
        const source = join(fs.path, `vm-${type}.img`);
        const job = join(fs.path, `job-${type}`);
        writeFileSync(source, '');
        const init = ok(['-b', job, 'init', ...(type === 'btrfs' ? ['--store', 'chunked'] : []), 'file', source]);
        const config = YAML.parse(readFileSync(join(job, 'config'), 'utf8'));
        assert.deepEqual(config, { type: 'file', filename: source, store: 'chunked' });
        if (type === 'ext4') assert.match(init.stdout, /INFO .* cannot share blocks between files \(no reflinks\): revisions are kept as deduplicated, compressed chunks \(store: chunked\)\n/);

        const ids: string[] = [];
        const copies: string[] = [];
        const chunksAfter: number[] = [];
        for (const [index, step] of changes.entries()) {
          step.change(source);
          copies.push(join(saved, `${index}.img`));
          copyFileSync(source, copies.at(-1)!);
          ok(['-b', job, 'backup', 'daily']);
          chunksAfter.push(countChunks(join(job, 'chunks')));
          const id = revisionIds(job).find((candidate) => !ids.includes(candidate))!;
          ids.push(id);
          const rev = readRevisionYaml(job, id);
          assert.equal(rev.stats.clone, index === 0 ? 'empty' : 'chunks', step.what);
          assert.equal(typeof rev.stats.chunks_added, 'number', `${step.what}: chunks added recorded`);
          // No image file, an index beside the .rev, read-only.
          assert.ok(!existsSync(join(job, id)) && existsSync(join(job, `${id}.index`)), `${step.what}: an index, no image`);
        }
        // The first backup: the zero run is not stored, the repeated block once (two workers may
        // both have written it, under one name: the stats count writes, the pool holds one).
        const firstChunks = (16 * MiB - 2 * MiB) / BLOCK - 1;
        assert.ok([firstChunks, firstChunks + 1].includes(Number(readRevisionYaml(job, ids[0]!).stats.chunks_added)));
        assert.equal(chunksAfter[0], firstChunks, 'the pool holds each distinct block once');
        assert.equal(chunksAfter[1], firstChunks + 12);
        // 12 changed blocks cost 12 chunks (random data does not compress: stored as it is).
        const second = readRevisionYaml(job, ids[1]!);
        assert.equal(second.stats.chunks_added, 12, 'twelve distinct random blocks');
        assert.equal(second.stats.bytes_added, 12 * BLOCK);

        const status = ok(['-b', job, 'status']).stdout.trimEnd().split('\n');
        assert.match(status.at(-2)!, /^4 revisions containing [\d.]+ MiB data \(estimated\)$/);
        assert.match(status.at(-1)!, /^[\d.]+ MiB used in the chunk pool by \d+ distinct chunks$/);
        const rows = status.filter((line) => /^\| \d{4}-/.test(line));
        assert.equal(rows[1]!.split('|')[3]!.trim(), '768.00 kiB', 'what the second revision added to the pool');

        const found = backy(['-b', job, 'find', '-r', ids[2]!]);
        assert.equal(found.status, 1);
        assert.equal(found.stdout, '');
        assert.equal(
          found.stderr,
          `backy: revision ${ids[2]} has no image file (it is kept in the chunked store); get one with 'backy restore -r ${ids[2]} FILE'\n`,
        );

        const verified = ok(['-b', job, 'verify', '--all']).stdout.trimEnd().split('\n');
        assert.equal(verified.length, 4);
        for (const line of verified) assert.match(line, /^revision \S+ verified: /);

        for (const [index, id] of ids.entries()) {
          const expected = readFileSync(copies[index]!);
          const target = join(fs.path, `restored-${type}-${index}.img`);
          ok(['-b', job, 'restore', '-r', id, target]);
          assert.ok(readFileSync(target).equals(expected), `revision ${index}: restored to a file`);
          rmSync(target);
          const piped = join(saved, `piped-${index}.img`);
          const streamed = backyToFile(['-b', job, 'restore', '-r', id, '-'], piped);
          assert.equal(streamed.status, 0, streamed.stderr);
          assert.ok(readFileSync(piped).equals(expected), `revision ${index}: restored to stdout`);
        }
        assert.ok(readdirSync(join(job, 'chunks', 'chunks')).length === 256, 'chunks fanned out over 256 directories');
      } finally {
        rmSync(saved, { recursive: true, force: true });
      }
    });
  }
});
