/**
 * `backy restore --rbd` against the real test cluster: a new image by
 * import-diff of the data ranges only, and `--instant` through Ceph's
 * import-only live migration from backy's HTTP source, readable right
 * after `prepare`; refused over an existing image; leaving no image behind
 * when killed (SIGTERM or SIGKILL) or failing half-way.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKY_MAIN } from '../helpers/cli.js';
import { assertOneLineError, sameBytes, waitUntil } from '../helpers/job-files.js';
import { DATA_REGIONS, MiB, writeTestImage } from '../helpers/serve-process.js';
import { backupOk, backyAsync, exportSnapshot, useCephCluster } from './ceph-test-kit.js';

describe('backy restore --rbd', () => {
  const setup = useCephCluster();
  let job = '';
  let id = '';
  let restored = '';

  before(async () => {
    writeTestImage(join(setup.scratch, 'source.img'));
    job = await setup.initJob('restore-rbd', 'file', join(setup.scratch, 'source.img'));
    id = await backupOk(job, setup.cluster.env);
    restored = join(setup.scratch, 'restored.img');
    assert.equal((await backyAsync(['-b', job, 'restore', '-r', id, restored], setup.cluster.env)).status, 0);
  });

  const images = () => setup.cluster.rbdText(['ls', setup.cluster.pool]).split('\n').filter(Boolean);
  const exported = (image: string) => exportSnapshot(setup.cluster, `${setup.cluster.pool}/${image}`, join(setup.scratch, `${image}-${Date.now()}.img`));

  /** A BACKY_RBD that stops before `rbd migration execute` (or `import-diff`) until the test lets it go on. */
  function pausingRbd(before: string): { env: NodeJS.ProcessEnv; paused: string; release(): void } {
    const paused = join(setup.scratch, `paused-${before}`);
    const go = join(setup.scratch, `go-${before}`);
    rmSync(paused, { force: true });
    rmSync(go, { force: true });
    const wrapper = join(setup.scratch, `rbd-pausing-${before}`);
    writeFileSync(
      wrapper,
      `#!/bin/sh\nfor a in "$@"; do if [ "$a" = ${before} ]; then touch ${paused}; while [ ! -e ${go} ]; do sleep 0.05; done; fi; done\nexec rbd "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    return { env: { ...setup.cluster.env, BACKY_RBD: wrapper }, paused, release: () => writeFileSync(go, '') };
  }

  function start(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<{ status: number | null; stdout: string; stderr: string }> } {
    const child = spawn(process.execPath, [BACKY_MAIN, '-b', job, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return { child, done: new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr }))) };
  }

  /** Where a restore is stopped half-way: after prepare (--instant), or as import-diff starts. */
  const HALF_WAY = [
    [['--instant'], 'execute'],
    [[], 'import-diff'],
  ] as const;

  /** A restore into `name`, started and paused before rbd `pauseAt`. */
  async function pausedRestore(name: string, mode: readonly string[], pauseAt: string): Promise<{ rbd: ReturnType<typeof pausingRbd>; run: ReturnType<typeof start> }> {
    const rbd = pausingRbd(pauseAt);
    const run = start(['restore', '-r', id, '--rbd', `${setup.cluster.pool}/${name}`, ...mode], rbd.env);
    await waitUntil(() => existsSync(rbd.paused), `rbd ${pauseAt}`);
    return { rbd, run };
  }

  test('a new image with the revision, written where it holds data only', async () => {
    const result = await backyAsync(['-b', job, 'restore', '-r', id, '--rbd', `${setup.cluster.pool}/plain`], setup.cluster.env);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(sameBytes(exported('plain'), restored));
    // The holes of the revision were never written: the image's extents lie within its data.
    const extents = JSON.parse(setup.cluster.rbdText(['diff', '--format', 'json', `${setup.cluster.pool}/plain`])) as Array<{ offset: number; length: number }>;
    const written = extents.reduce((sum, e) => sum + e.length, 0);
    const data = DATA_REGIONS.reduce((sum, [from, to]) => sum + to - from, 0);
    assert.ok(written <= data + 8 * MiB, `${written} bytes written for ${data} bytes of data`);
    for (const { offset, length } of extents) {
      assert.ok(DATA_REGIONS.some(([from, to]) => offset < to + 4 * MiB && offset + length > from - 4 * MiB), `an extent at ${offset} far from any data`);
    }
  });

  test('the Ceph environment reaches rbd: the cluster named by CEPH_ARGS alone', async () => {
    const env: NodeJS.ProcessEnv = { ...setup.cluster.env, CEPH_ARGS: `--conf ${setup.cluster.conf}` };
    delete env.CEPH_CONF;
    const result = await backyAsync(['-b', job, 'restore', '-r', id, '--rbd', `${setup.cluster.pool}/ceph-args`], env);
    assert.equal(result.status, 0, result.stderr);
    assert.ok(sameBytes(exported('ceph-args'), restored));
  });

  test('an image that exists is refused and left as it is, with and without --instant', async () => {
    const before = readFileSync(exported('plain'));
    for (const extra of [[], ['--instant']]) {
      const result = await backyAsync(['-b', job, 'restore', '-r', id, '--rbd', `${setup.cluster.pool}/plain`, ...extra], setup.cluster.env);
      assertOneLineError(result, new RegExp(`refusing to restore into ${setup.cluster.pool}/plain: the image exists`), `restore ${extra.join(' ')}`);
    }
    assert.ok(readFileSync(exported('plain')).equals(before));
  });

  test('--instant: the image reads right after prepare, then execute and commit; the HTTP source is gone at exit', async () => {
    const rbd = pausingRbd('execute');
    const run = start(['restore', '-r', id, '--rbd', `${setup.cluster.pool}/instant`, '--instant'], rbd.env);
    await waitUntil(() => existsSync(rbd.paused), 'the migration to be prepared');
    assert.ok(sameBytes(exported('instant'), restored), 'the image does not read as the revision after prepare');
    const status = setup.cluster.rbdText(['status', `${setup.cluster.pool}/instant`]);
    assert.match(status, /state: prepared/);
    const url = /"url":"([^"]+)"/.exec(status)![1]!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}$/);
    const guessed = await fetch(url.replace(/\/[^/]+$/, '/x')).then((r) => r.status);
    assert.equal(guessed, 404, 'the source answers without its path');
    rbd.release();
    const result = await run.done;
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /RBD image .*\/instant is usable now/);
    assert.match(result.stdout, /migration into .*\/instant committed/);
    assert.doesNotMatch(result.stderr, /ended before it finished/, 'the watchdog took a committed image for an unfinished one');
    assert.doesNotMatch(setup.cluster.rbdText(['status', `${setup.cluster.pool}/instant`]), /Migration/);
    assert.ok(sameBytes(exported('instant'), restored));
    await assert.rejects(fetch(url), 'the HTTP source still answers');
  });

  test('--http-listen chooses where the HTTP source listens; options that do not go together are refused in one line', async () => {
    const rbd = pausingRbd('execute');
    const run = start(['restore', '-r', id, '--rbd', `${setup.cluster.pool}/listen`, '--instant', '--http-listen', '127.0.0.2:0'], rbd.env);
    await waitUntil(() => existsSync(rbd.paused), 'the migration to be prepared');
    assert.match(setup.cluster.rbdText(['status', `${setup.cluster.pool}/listen`]), /"url":"http:\/\/127\.0\.0\.2:\d+\/[A-Za-z0-9_-]{32}"/);
    rbd.release();
    const result = await run.done;
    assert.equal(result.status, 0, result.stderr);
    assert.ok(sameBytes(exported('listen'), restored));
    const pool = setup.cluster.pool;
    for (const [args, message] of [
      [['--instant', join(setup.scratch, 'x.img')], /^backy: restore: --instant and --http-listen need --rbd POOL\/IMAGE$/],
      [[join(setup.scratch, 'x.img'), '--rbd', `${pool}/refused`], /^backy: restore: give a TARGET or --rbd POOL\/IMAGE, not both$/],
      [['--rbd', `${pool}/refused`, '--force'], /^backy: restore: --force cannot be combined with --rbd/],
      [['--rbd', `${pool}/refused`, '--http-listen', '127.0.0.1:0'], /^backy: restore: --http-listen is for --instant$/],
      [['--rbd', `${pool}/refused`, '--instant', '--http-listen', 'localhost:80'], /^backy: --http-listen "localhost:80": expected ADDRESS:PORT/],
      [['--rbd', 'no-image'], /^backy: --rbd "no-image": expected POOL\/IMAGE/],
    ] as const) {
      assertOneLineError(await backyAsync(['-b', job, 'restore', '-r', id, ...args], setup.cluster.env), message, args.join(' '));
    }
    assert.ok(!images().includes('refused'));
    assert.ok(!existsSync(join(setup.scratch, 'x.img')));
  });

  test('killed half-way (after prepare, or while import-diff streams), a restore leaves no image behind', async () => {
    for (const [mode, pauseAt] of HALF_WAY) {
      const name = `killed-${pauseAt}`;
      const { run } = await pausedRestore(name, mode, pauseAt);
      if (pauseAt === 'execute') assert.ok(images().includes(name), 'no image after prepare');
      run.child.kill('SIGTERM');
      const result = await run.done;
      assert.equal(result.status, 1);
      assert.match(result.stderr, /interrupted by SIGTERM/);
      assert.doesNotMatch(result.stderr, /ended before it finished/, 'the watchdog cleaned up after a restore that did so itself');
      assert.ok(!images().includes(name), `${name} was left behind`);
    }
  });

  test('killed with SIGKILL (after prepare, or while import-diff streams), a restore still leaves no image and no trace behind', async () => {
    for (const [mode, pauseAt] of HALF_WAY) {
      const name = `sigkilled-${pauseAt}`;
      const { rbd, run } = await pausedRestore(name, mode, pauseAt);
      const imageId = (JSON.parse(setup.cluster.rbdText(['info', '--format', 'json', `${setup.cluster.pool}/${name}`])) as { id: string }).id;
      run.child.kill('SIGKILL');
      // The restore's rbd still runs (paused): nothing may be removed under it.
      await new Promise((resolve) => run.child.on('exit', resolve));
      assert.ok(images().includes(name), `${name} was removed while the restore's rbd ${pauseAt} still ran`);
      rbd.release();
      // Ends when the last holder of its stderr is gone: the rbd, and the watchdog after its cleanup.
      const result = await run.done;
      assert.equal(result.status, null);
      assert.match(result.stderr, new RegExp(`WARN the restore into ${setup.cluster.pool}/${name} ended before it finished; removing what it made`));
      assert.match(result.stderr, new RegExp(`INFO the unfinished RBD image ${setup.cluster.pool}/${name} is gone`));
      assert.ok(!images().includes(name), `${name} was left behind`);
      assert.equal(setup.cluster.rbdText(['trash', 'ls', setup.cluster.pool]), '');
      const objects = execFileSync('rados', ['-p', setup.cluster.pool, 'ls'], { env: setup.cluster.env, encoding: 'utf8' }).split('\n');
      assert.deepEqual(objects.filter((object) => object.includes(imageId) || object.endsWith(`.${name}`)), [], 'objects of the image are left');
    }
  });

  test('killed with SIGKILL while rbd creates the image, a restore removes the image it made, never one made by someone else meanwhile', async () => {
    const other = join(setup.scratch, 'other.img');
    writeFileSync(other, Buffer.alloc(MiB, 'x'));
    for (const [mode, pauseAt] of [[[], 'create'], [['--instant'], 'prepare']] as const) {
      for (const someoneElse of [false, true]) {
        const name = `race-${pauseAt}-${someoneElse ? 'theirs' : 'ours'}`;
        const { rbd, run } = await pausedRestore(name, mode, pauseAt);
        // Between the restore's check that the name is free and its rbd making the image.
        if (someoneElse) setup.cluster.rbd(['import', '--no-progress', other, `${setup.cluster.pool}/${name}`]);
        run.child.kill('SIGKILL');
        await new Promise((resolve) => run.child.on('exit', resolve));
        rbd.release();
        const result = await run.done;
        assert.equal(result.status, null);
        if (someoneElse) {
          assert.ok(images().includes(name), `${name}, made by someone else, was removed: ${result.stderr}`);
          assert.ok(sameBytes(exported(name), other), `${name} was changed`);
          setup.cluster.rbd(['rm', '--no-progress', `${setup.cluster.pool}/${name}`]);
        } else {
          // rbd create makes the image after the restore is gone (for the watchdog to remove); prepare fails without the HTTP source.
          assert.ok(!images().includes(name), `${name} was left behind: ${result.stderr}`);
          if (pauseAt === 'create') assert.match(result.stderr, new RegExp(`INFO the unfinished RBD image ${setup.cluster.pool}/${name} is gone`));
        }
      }
    }
  });

  test('a damaged block fails the restore, with and without --instant, and leaves no image', async () => {
    const image = join(job, id);
    const original = readFileSync(image);
    const damaged = Buffer.from(original);
    damaged[4 * MiB + 5] = damaged[4 * MiB + 5]! ^ 1;
    const metadata = readFileSync(join(job, `${id}.rev`));
    writeFileSync(image, damaged);
    try {
      for (const extra of [[], ['--instant']]) {
        const name = `damaged${extra.length}`;
        writeFileSync(join(job, `${id}.rev`), metadata);
        const result = await backyAsync(['-b', job, 'restore', '-r', id, '--rbd', `${setup.cluster.pool}/${name}`, ...extra], setup.cluster.env);
        assert.equal(result.status, 1);
        assert.match(result.stderr, new RegExp(`revision ${id} is damaged: block at offset ${4 * MiB} does not match its recorded hash; nothing was restored`));
        assert.ok(!images().includes(name), `${name} was left behind`);
        // Noted in the .rev, so that no backup builds on the damaged revision.
        assert.match(readFileSync(join(job, `${id}.rev`), 'utf8'), /^trust: distrusted$/m, `restore ${extra.join(' ')}`);
      }
    } finally {
      writeFileSync(image, original);
      writeFileSync(join(job, `${id}.rev`), metadata);
    }
  });
});
