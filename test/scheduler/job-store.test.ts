/** Which store the scheduler writes into a job's config: named, kept, or the filesystem's default. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { prepareJobDirectory } from '../../src/scheduler/job-setup.js';
import type { JobConfig } from '../../src/scheduler/config.js';
import { fixedClock } from '../../src/util/clock.js';
import { createLogger } from '../../src/util/logger.js';
import { useExt4AndBtrfs } from '../helpers/loop-fs.js';
import { backy } from '../helpers/cli.js';

const job = (name: string, store?: string): JobConfig => ({
  name,
  scheduleName: 'default',
  schedule: [{ tag: 'daily', intervalSeconds: 86400, keep: 7 }],
  source: { type: 'file', filename: '/srv/vm.img' },
  ...(store ? { store } : {}),
});

describe('the store of a scheduler job', () => {
  const filesystems = useExt4AndBtrfs('256M');
  const lines: string[] = [];
  const logger = createLogger({ write: (line: string) => lines.push(line), close: () => undefined }, {});
  const config = (base: string, name: string) => YAML.parse(readFileSync(join(base, name, 'config'), 'utf8'));

  it('is the filesystem\'s default for a new job, said in one log line, and shares the base directory\'s pool', async () => {
    for (const type of ['ext4', 'btrfs'] as const) {
      lines.length = 0;
      const base = filesystems[type].path;
      await prepareJobDirectory(base, job(`new-${type}`), fixedClock(new Date()), logger);
      const expected = type === 'ext4' ? { store: 'chunked', chunk_pool: 'shared' } : {};
      assert.deepEqual(config(base, `new-${type}`), { type: 'file', filename: '/srv/vm.img', ...expected });
      assert.equal(lines.filter((line) => line.includes(`job new-${type}: `) && line.includes('(store: ')).length, 1);
    }
  });

  it('is the one the configuration names; an existing job keeps its own otherwise, and its own pool always', async () => {
    const base = filesystems.ext4.path;
    await prepareJobDirectory(base, job('named', 'chunked'), fixedClock(new Date()), logger);
    assert.equal(config(base, 'named').store, 'chunked');
    mkdirSync(join(base, 'old-cow'));
    writeFileSync(join(base, 'old-cow', 'config'), 'type: file\nfilename: /srv/old.img\n');
    await prepareJobDirectory(base, job('old-cow'), fixedClock(new Date()), logger);
    assert.deepEqual(config(base, 'old-cow'), { type: 'file', filename: '/srv/vm.img' }, 'a backy 2.x job stays a cow job');
    mkdirSync(join(base, 'own-pool'));
    writeFileSync(join(base, 'own-pool', 'config'), 'type: file\nfilename: /srv/vm.img\nstore: chunked\n');
    await prepareJobDirectory(base, job('own-pool', 'chunked'), fixedClock(new Date()), logger);
    assert.equal(config(base, 'own-pool').chunk_pool, 'job');
  });

  it('changed to cow and back, a job keeps the pool its chunked revisions are in: they still restore', async () => {
    const base = filesystems.ext4.path;
    const source = join(base, 'switched.img');
    const image = randomBytes(1024 * 1024);
    writeFileSync(source, image);
    const switched = (name: string, store: string): JobConfig => ({ ...job(name, store), source: { type: 'file', filename: source } });
    const restores = (name: string) => {
      const target = join(base, `${name}-restored.img`);
      const result = backy(['-b', join(base, name), 'restore', target], { timeoutMs: 30_000 });
      assert.equal(result.status, 0, `restore of ${name}'s chunked revision: ${result.stderr}`);
      assert.ok(readFileSync(target).equals(image));
      rmSync(target);
    };
    const backedUp = (name: string) => assert.equal(backy(['-b', join(base, name), 'backup', 'daily'], { timeoutMs: 30_000 }).status, 0);

    // A scheduler job, in the shared pool.
    await prepareJobDirectory(base, switched('shared-switched', 'chunked'), fixedClock(new Date()), logger);
    backedUp('shared-switched');
    await prepareJobDirectory(base, switched('shared-switched', 'cow'), fixedClock(new Date()), logger);
    restores('shared-switched');
    await prepareJobDirectory(base, switched('shared-switched', 'chunked'), fixedClock(new Date()), logger);
    assert.equal(config(base, 'shared-switched').chunk_pool, 'shared');
    restores('shared-switched');

    // A job of `backy init`, with its own pool.
    assert.equal(backy(['-b', join(base, 'own-switched'), 'init', '--store', 'chunked', 'file', source]).status, 0);
    backedUp('own-switched');
    await prepareJobDirectory(base, switched('own-switched', 'cow'), fixedClock(new Date()), logger);
    restores('own-switched');
    await prepareJobDirectory(base, switched('own-switched', 'chunked'), fixedClock(new Date()), logger);
    assert.equal(config(base, 'own-switched').chunk_pool, 'job');
    restores('own-switched');
  });
});
