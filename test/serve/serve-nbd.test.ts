/**
 * `backy serve` against the real NBD clients a user has: nbdinfo (and its
 * --map), nbdcopy, qemu-img and qemu-io, for every registered store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY_LENGTH, HASH_BLOCK_SIZE } from '../../src/integrity/block-hash.js';
import { HEADER_LENGTH } from '../../src/integrity/hash-record.js';
import { storeTypeNames } from '../../src/store/registry.js';
import { BACKY_MAIN, backy } from '../helpers/cli.js';
import { fingerprintJob, sameBytes, waitUntil } from '../helpers/job-files.js';
import { RawNbd, u32 } from '../helpers/nbd-wire.js';
import { DATA_REGIONS, IMAGE_SIZE, MiB, jobWithRevision, runTool, startServe, writeTestImage } from '../helpers/serve-process.js';

/** What `nbdinfo --map` must print for the test image: its data regions and the holes between them. */
function expectedMap(): string {
  const lines: string[] = [];
  let at = 0;
  const line = (offset: number, length: number, hole: boolean) =>
    lines.push(`${String(offset).padStart(10)}  ${String(length).padStart(10)}    ${hole ? '3  hole,zero' : '0  data'}`);
  for (const [from, to] of DATA_REGIONS) {
    if (from > at) line(at, from - at, true);
    line(from, to - from, false);
    at = to;
  }
  if (at < IMAGE_SIZE) line(at, IMAGE_SIZE - at, true);
  return `${lines.join('\n')}\n`;
}

/** Flips one byte of the block at `offset` where the store keeps it: the cow image file, or the block's chunk. */
function damageBlockAt(job: string, id: string, offset: number): void {
  let path = join(job, id);
  let at = offset + 100;
  if (!existsSync(path)) {
    const entry = Buffer.alloc(ENTRY_LENGTH);
    const index = openSync(join(job, `${id}.index`), 'r');
    readSync(index, entry, 0, ENTRY_LENGTH, HEADER_LENGTH + (offset / HASH_BLOCK_SIZE) * ENTRY_LENGTH);
    closeSync(index);
    const name = entry.toString('hex');
    path = join(job, 'chunks', 'chunks', name.slice(0, 2), name);
    at = 100;
  }
  chmodSync(path, 0o644);
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0xff;
  writeFileSync(path, bytes);
}

function nbdcopyAsync(from: string, to: string): Promise<number | null> {
  return new Promise((resolve) => spawn('nbdcopy', [from, to], { stdio: 'ignore' }).on('close', resolve));
}

for (const store of storeTypeNames()) {
  describe(`backy serve of a ${store} revision`, () => {
    let dir = '';
    let job = '';
    let id = '';
    let restored = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'backy-serve-'));
      writeTestImage(join(dir, 'source.img'));
      job = join(dir, 'job');
      id = jobWithRevision(job, join(dir, 'source.img'), store);
      restored = join(dir, 'restored.img');
      assert.equal(backy(['-b', job, 'restore', '-r', id, restored]).status, 0);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    test('nbdinfo: the revision as a read-only export with base:allocation and 512-byte sectors', async () => {
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
      try {
        assert.match(server.uri, /^nbd:\/\/127\.0\.0\.1:\d+$/);
        const info = runTool('nbdinfo', ['--json', server.uri]);
        assert.equal(info.status, 0, info.stderr);
        const parsed = JSON.parse(info.stdout) as { protocol: string; exports: Array<Record<string, unknown>> };
        assert.equal(parsed.protocol, 'newstyle-fixed');
        const exported = parsed.exports[0]!;
        assert.equal(exported['export-name'], id);
        assert.equal(exported['export-size'], IMAGE_SIZE);
        assert.equal(exported.is_read_only, true);
        assert.equal(exported.can_multi_conn, true);
        assert.equal(exported.block_size_minimum, 512);
        assert.deepEqual(exported.contexts, ['base:allocation']);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test('nbdinfo --map shows exactly the holes of the revision', async () => {
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
      try {
        const map = runTool('nbdinfo', ['--map', server.uri]);
        assert.equal(map.status, 0, map.stderr);
        assert.equal(map.stdout, expectedMap());
      } finally {
        await server.stop();
      }
    });

    test('nbdcopy of the export equals backy restore byte for byte; qemu-img compare agrees; several clients at once', async () => {
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
      try {
        const copies = [1, 2, 3].map((n) => join(dir, `copy${n}.img`));
        // Three nbdcopy processes of four connections each, at the same time.
        const statuses = await Promise.all(copies.map((copy) => nbdcopyAsync(server.uri, copy)));
        assert.deepEqual(statuses, [0, 0, 0]);
        for (const copy of copies) assert.ok(sameBytes(copy, restored), `${copy} differs from backy restore`);
        const compare = runTool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', restored, server.uri]);
        assert.equal(compare.status, 0, compare.stdout + compare.stderr);
        assert.match(compare.stdout, /Images are identical/);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test('--writable: writes read back through the export, the revision stays as it was, the overlay is gone', async () => {
      const overlayDir = mkdtempSync(join(dir, 'tmp-'));
      const before = fingerprintJob(job);
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0', '--writable'], { ...process.env, TMPDIR: overlayDir });
      try {
        // Unaligned and partial-block writes: the rest of their blocks must still read from the revision.
        const writes = runTool('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 4194404 1000', '-c', 'write -P 0xcd 2097152 8192', server.uri]);
        assert.equal(writes.status, 0, writes.stdout + writes.stderr);
        const expected = readFileSync(restored);
        expected.fill(0xab, 4194404, 4194404 + 1000);
        expected.fill(0xcd, 2097152, 2097152 + 8192);
        writeFileSync(join(dir, 'expected.img'), expected);
        const copy = join(dir, 'written.img');
        assert.equal(runTool('nbdcopy', [server.uri, copy]).status, 0);
        assert.ok(sameBytes(copy, join(dir, 'expected.img')), 'the export does not read back what was written');
        assert.deepEqual(readdirSync(overlayDir), [], 'the overlay is unlinked while in use');
      } finally {
        assert.equal(await server.stop(), 0);
      }
      assert.deepEqual(fingerprintJob(job), before, 'the job directory changed');
      const again = join(dir, 'again.img');
      assert.equal(backy(['-b', job, 'restore', '-r', id, again]).status, 0);
      assert.ok(sameBytes(again, restored), 'the revision changed');
    });

    test('--writable: zeroing a range leaves a hole in the overlay, unless the client forbids one', async () => {
      const overlayDir = mkdtempSync(join(dir, 'tmp-'));
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0', '--writable'], { ...process.env, TMPDIR: overlayDir });
      // The overlay is unlinked: its bytes on disk are those of the server's open file under the overlay directory.
      const overlayBytes = () => {
        for (const fd of readdirSync(`/proc/${server.child.pid}/fd`)) {
          const link = readlinkSync(`/proc/${server.child.pid}/fd/${fd}`);
          if (link.startsWith(overlayDir)) return statSync(`/proc/${server.child.pid}/fd/${fd}`).blocks * 512;
        }
        throw new Error('no overlay file open');
      };
      try {
        // write -z -u: WRITE_ZEROES that may leave a hole; unaligned, so its ends are written.
        const zeroed = runTool('qemu-io', ['-f', 'raw', '-c', 'write -z -u 1000 20971520', server.uri]);
        assert.equal(zeroed.status, 0, zeroed.stdout + zeroed.stderr);
        assert.ok(overlayBytes() < 1 * MiB, `the overlay holds ${overlayBytes()} bytes for 20 MiB of zeros`);
        const expected = readFileSync(restored);
        expected.fill(0, 1000, 1000 + 20971520);
        writeFileSync(join(dir, 'expected-zeroed.img'), expected);
        const copy = join(dir, 'zeroed.img');
        assert.equal(runTool('nbdcopy', [server.uri, copy]).status, 0);
        assert.ok(sameBytes(copy, join(dir, 'expected-zeroed.img')), 'the zeroed range does not read back as zeros');
        // Without -u, qemu sends NBD_CMD_FLAG_NO_HOLE: the zeros are written.
        const allocated = runTool('qemu-io', ['-f', 'raw', '-c', 'write -z 0 4194304', server.uri]);
        assert.equal(allocated.status, 0, allocated.stdout + allocated.stderr);
        assert.ok(overlayBytes() >= 4 * MiB, `the overlay holds ${overlayBytes()} bytes after 4 MiB of zeros with no hole allowed`);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test('read-only by default: a write is refused', async () => {
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
      try {
        const write = runTool('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 0 4096', server.uri]);
        assert.match(write.stdout + write.stderr, /read-only|Operation not permitted|Permission denied/i);
      } finally {
        await server.stop();
      }
    });
  });
}

describe('backy serve, the server itself', () => {
  let dir = '';
  let job = '';
  let id = '';
  let content: Buffer = Buffer.alloc(0);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backy-serve-'));
    content = writeTestImage(join(dir, 'source.img'));
    job = join(dir, 'job');
    id = jobWithRevision(job, join(dir, 'source.img'), 'cow');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('by default it listens on 127.0.0.1:10809 only (in a network namespace of its own, where that port is free)', () => {
    // The URI is read through a FIFO: the read ends with the line, or at once if serve dies first.
    const script = `ip link set lo up
mkfifo "$3"
"$0" "$1" -b "$2" serve > "$3" &
exec 4< "$3"
read -r uri <&4
echo "$uri"
ss -Hltn | awk '{ print $4 }'
nbdinfo --size "$uri"
kill -TERM $!
wait $!
echo "exit $?"`;
    const result = spawnSync('unshare', ['--net', 'sh', '-c', script, process.execPath, BACKY_MAIN, job, join(dir, 'uri.fifo')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.stdout, `nbd://127.0.0.1:10809\n127.0.0.1:10809\n${IMAGE_SIZE}\nexit 0\n`, result.stderr);
  });

  test('an old client: NBD_OPT_EXPORT_NAME gets the export (with or without the 124 zero bytes) and simple replies', async () => {
    const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
    try {
      for (const [clientFlags, name] of [[1, id], [3, '']] as const) {
        const client = await RawNbd.open(server.uri);
        client.send(u32(clientFlags));
        client.option(1, Buffer.from(name));
        const noZeroes = (clientFlags & 2) !== 0;
        const answer = await client.read(noZeroes ? 10 : 134);
        assert.equal(answer.readBigUInt64BE(0), BigInt(IMAGE_SIZE));
        assert.equal(answer.readUInt16BE(8) & 3, 3, 'HAS_FLAGS and READ_ONLY');
        if (!noZeroes) assert.ok(answer.subarray(10).equals(Buffer.alloc(124)));
        client.request(0, BigInt(4 * MiB), 65536, 9n);
        const header = await client.read(16);
        assert.equal(header.readUInt32BE(0), 0x67446698, 'a simple reply');
        assert.equal(header.readUInt32BE(4), 0, 'no error');
        assert.equal(header.readBigUInt64BE(8), 9n);
        assert.ok((await client.read(65536)).equals(content.subarray(4 * MiB, 4 * MiB + 65536)));
        client.close();
      }
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  for (const store of storeTypeNames()) {
    test(`a damaged block of a ${store} revision is an I/O error for the client and a log line; the blocks around it still read`, async () => {
      const damagedJob = join(dir, `damaged-${store}`);
      const damagedId = jobWithRevision(damagedJob, join(dir, 'source.img'), store);
      damageBlockAt(damagedJob, damagedId, 4 * MiB);
      const server = await startServe(damagedJob, ['-r', damagedId, '--listen', '127.0.0.1:0']);
      try {
        const bad = runTool('qemu-io', ['-r', '-f', 'raw', '-c', `read ${4 * MiB} 4096`, server.uri]);
        assert.match(bad.stdout + bad.stderr, /Input\/output error/);
        const good = runTool('qemu-io', ['-r', '-f', 'raw', '-c', `read -P 0 ${2 * MiB} 65536`, '-c', `read ${4 * MiB + 65536} 65536`, server.uri]);
        assert.doesNotMatch(good.stdout + good.stderr, /error|fail/i);
        assert.notEqual(runTool('nbdcopy', [server.uri, join(dir, 'never.img')]).status, 0, 'nbdcopy copied a damaged revision');
      } finally {
        assert.equal(await server.stop(), 0);
      }
      assert.match(server.log(), new RegExp(`ERROR revision ${damagedId}: block at offset ${4 * MiB} does not match its recorded hash`));
    });
  }

  test('SIGTERM closes a connected client cleanly and exits 0; SIGINT too', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const server = await startServe(job, ['-v', '-r', id, '--listen', '127.0.0.1:0']);
      // qemu-io keeps its connection open while it waits for commands.
      const client = spawn('qemu-io', ['-r', '-f', 'raw', server.uri], { stdio: ['pipe', 'ignore', 'ignore'] });
      const clientGone = new Promise((resolve) => client.on('close', resolve));
      await waitUntil(() => server.log().includes('connected'), 'the client to connect');
      assert.equal(await server.stop(signal), 0, server.log());
      assert.match(server.log(), /stopping: closing 1 client/);
      client.stdin.end('quit\n');
      await clientGone;
    }
  });

  test('--socket: a Unix socket, removed again at exit; the default address is this machine only', async () => {
    const socket = join(dir, 'nbd.sock');
    const server = await startServe(job, ['--socket', socket]);
    try {
      assert.equal(server.uri, `nbd+unix:///?socket=${socket}`);
      assert.equal(runTool('nbdinfo', ['--size', server.uri]).stdout.trim(), String(IMAGE_SIZE));
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.deepEqual(readdirSync(dir).filter((name) => name === 'nbd.sock'), []);
    const refused = backy(['-b', job, 'serve', '--listen', 'localhost:10809']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /--listen "localhost:10809": expected ADDRESS:PORT/);
  });

  test('--socket: a path with characters a URI reserves (& # ? + % and a space) is escaped in the URI, which clients can use', async () => {
    for (const name of ['a&b.sock', 'c#d.sock', 'e?f=g.sock', 'h+i%j k.sock']) {
      const socket = join(dir, name);
      const server = await startServe(job, ['--socket', socket]);
      try {
        assert.equal(runTool('nbdinfo', ['--size', server.uri]).stdout.trim(), String(IMAGE_SIZE), `${name}: ${server.uri}`);
        assert.equal(runTool('qemu-img', ['info', '--output=json', server.uri]).status, 0, `${name}: ${server.uri}`);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    }
  });

  test('an incomplete revision is refused before anything listens', () => {
    const incomplete = 'Z'.repeat(22);
    const rev = readFileSync(join(job, `${id}.rev`), 'utf8').replace(id, incomplete).replace(/\n\s*duration:[^\n]*/, '');
    writeFileSync(join(job, `${incomplete}.rev`), rev);
    copyFileSync(join(job, id), join(job, incomplete));
    try {
      const result = backy(['-b', job, 'serve', '-r', incomplete, '--listen', '127.0.0.1:0']);
      assert.equal(result.status, 1);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`^backy: revision ${incomplete} is incomplete`));
    } finally {
      rmSync(join(job, `${incomplete}.rev`));
      rmSync(join(job, incomplete), { force: true });
    }
  });
});
