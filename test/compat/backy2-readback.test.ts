/**
 * A job directory begun by backy 2.0, extended by this backy, and read back
 * the way backy 2.x reads one: PyYAML's safe_load of `config` and of every
 * `*.rev` but `last.rev`, a revision's image at `{job}/{uuid}`, complete
 * when its stats have a duration. (backy 2.x ran on PyYAML before 5.3,
 * which read zoned timestamps as naive UTC; the reader below does the same.)
 * backy 2.x restores a revision by copying that image, so the image's bytes
 * must be the source's at that backup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { pythonWith, runPython } from '../helpers/cpython.js';
import { writeAt } from '../helpers/job-files.js';

const BACKY2_READER = `import datetime, glob, hashlib, json, os, sys, yaml
path = json.load(sys.stdin)
with open(os.path.join(path, 'config'), encoding='utf-8') as f:
    config = yaml.safe_load(f)
revisions = []
for name in glob.glob(os.path.join(path, '*.rev')):
    if name.endswith('last.rev'):
        continue
    with open(name, encoding='utf-8') as f:
        meta = yaml.safe_load(f)
    timestamp = meta['timestamp']
    if isinstance(timestamp, float):
        timestamp = datetime.datetime.utcfromtimestamp(timestamp)
    if not isinstance(timestamp, datetime.datetime):
        raise SystemExit('%s: timestamp %r is no datetime' % (name, timestamp))
    if timestamp.tzinfo is not None:
        timestamp = timestamp.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    stats = meta.get('stats', {})
    with open(os.path.join(path, meta['uuid']), 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    revisions.append({'uuid': meta['uuid'], 'timestamp': timestamp.isoformat(), 'parent': meta['parent'],
                      'tags': sorted(set(meta.get('tags', []))), 'complete': 'duration' in stats,
                      'bytes_written': stats['bytes_written'], 'sha256': digest})
revisions.sort(key=lambda r: r['timestamp'])
print(json.dumps({'config': config, 'revisions': revisions}))
`;

interface Backy2View {
  config: Record<string, unknown>;
  revisions: { uuid: string; timestamp: string; parent: string | null; tags: string[]; complete: boolean; bytes_written: number; sha256: string }[];
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

test('a backy 2.0 job extended by this backy reads back as backy 2.x reads it, image bytes included', (t) => {
  const python = pythonWith(['yaml']);
  if (python === null) return t.skip('no Python 3 with PyYAML (Debian: python3-yaml)');
  const dir = mkdtempSync(join(tmpdir(), 'backy2-readback-'));
  try {
    const source = join(dir, 'vm.img');
    const first = randomBytes(512 * 1024);
    writeFileSync(source, first);
    // As backy 2.0 left it: its config and one revision (yaml.safe_dump of its metadata).
    const job = join(dir, 'job');
    mkdirSync(job);
    writeFileSync(join(job, 'config'), `filename: ${source}\ntype: file\n`, { mode: 0o440 });
    const old = 'kaRtv9HLRZwwXnexB6q5yA';
    writeFileSync(
      join(job, `${old}.rev`),
      `parent: null\nstats:\n  bytes_written: ${first.length}\n  duration: 0.0294802188873291\ntags:\n- daily\ntimestamp: 2015-09-01 07:06:47.725403+00:00\nuuid: ${old}\n`,
      { mode: 0o440 },
    );
    writeFileSync(join(job, old), first, { mode: 0o440 });

    writeAt(source, 4096, randomBytes(8192));
    const second = readFileSync(source);
    assert.equal(backy(['-b', job, 'backup', 'daily,weekly']).status, 0);
    writeAt(source, 300 * 1024, randomBytes(100));
    const third = readFileSync(source);
    assert.equal(backy(['-b', job, 'backup', 'monthly']).status, 0);
    // verify rewrites the .rev files with keys backy 2.x does not know.
    assert.equal(backy(['-b', job, 'verify', '--all']).status, 0);

    const view = runPython(BACKY2_READER, job, python) as Backy2View;
    assert.deepEqual(view.config, { filename: source, type: 'file' });
    const ours = JSON.parse(backy(['-b', job, 'status', '--json']).stdout) as { uuid: string; timestamp: string; bytes_written: number }[];
    assert.equal(ours.length, 3);
    assert.deepEqual(
      view.revisions.map((r) => [r.uuid, r.parent || null, r.tags, r.complete, r.sha256]),
      [
        [old, null, ['daily'], true, sha256(first)],
        [ours[1]!.uuid, old, ['daily', 'weekly'], true, sha256(second)],
        [ours[2]!.uuid, ours[1]!.uuid, ['monthly'], true, sha256(third)],
      ],
    );
    assert.deepEqual(
      view.revisions.map((r) => r.bytes_written),
      ours.map((r) => r.bytes_written),
    );
    assert.equal(view.revisions[0]!.timestamp, '2015-09-01T07:06:47.725403');
    // The same moments as this backy's, to the millisecond it keeps.
    assert.deepEqual(
      view.revisions.map((r) => `${r.timestamp.slice(0, 23)}Z`),
      ours.map((r) => r.timestamp),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
