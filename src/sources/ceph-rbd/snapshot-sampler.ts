import { spawn } from 'node:child_process';
import { BackyError } from '../../util/errors.js';
import { programPath } from '../../util/programs.js';
import { ByteReader } from './byte-reader.js';
import { CEPH_TIMEOUTS } from './rbd-client.js';

/**
 * Random reads from an RBD snapshot without mapping it. The `rbd` program
 * can only stream a whole image (`export`), which would make checking a 1%
 * sample cost a full read. librbd reads any range directly; its Python
 * binding (python3-rbd) comes with Debian's ceph-common, so a few lines of
 * Python started once per verification serve the sample.
 *
 * Protocol: the script connects (reading CEPH_CONF, CEPH_CLUSTER and
 * CEPH_ARGS like rbd does), writes `R` once the snapshot is open, then
 * answers each `OFFSET LENGTH` line on stdin with exactly LENGTH bytes.
 */
const SCRIPT = String.raw`
import json, os, shlex, sys
try:
    import rados, rbd
except ImportError as e:
    sys.stderr.write('no Ceph Python binding (python3-rbd): %s\n' % e)
    sys.exit(3)
params = json.loads(sys.argv[1])
rados_id = None
name = None
args = shlex.split(os.environ.get('CEPH_ARGS', ''))
for i, arg in enumerate(args):
    value = args[i + 1] if i + 1 < len(args) else None
    if '=' in arg:
        arg, value = arg.split('=', 1)
    if arg in ('--id', '--user', '-i'):
        rados_id = value
    elif arg in ('--name', '-n'):
        name = value
try:
    cluster = rados.Rados(rados_id=rados_id, name=name, clustername=os.environ.get('CEPH_CLUSTER') or None)
    cluster.conf_read_file()
    for option, seconds in params['timeouts']:
        cluster.conf_set(option, str(seconds))
    cluster.conf_parse_env()
    cluster.connect()
    ioctx = cluster.open_ioctx(params['pool'])
    image = rbd.Image(ioctx, params['image'], snapshot=params['snapshot'], read_only=True)
except Exception as e:
    sys.stderr.write('%s: %s\n' % (type(e).__name__, e))
    sys.exit(4)
out = sys.stdout.buffer
out.write(b'R')
out.flush()
for line in sys.stdin.buffer:
    offset, length = (int(v) for v in line.split())
    data = image.read(offset, length)
    if len(data) != length:
        sys.stderr.write('short read at byte %d: %d of %d bytes\n' % (offset, len(data), length))
        sys.exit(5)
    out.write(data)
out.flush()
`;

/** Debian's python3-rbd installs into the system interpreter, which PATH may shadow (pyenv, venvs). */
const SYSTEM_PYTHON = '/usr/bin/python3';

export interface SnapshotLocation {
  pool: string;
  image: string;
  snapshot: string;
}

export type SampleOutcome = { status: 'done'; extents: number } | { status: 'stopped'; extents: number } | { status: 'unavailable'; reason: string };

/**
 * Reads `extents` (in order) from the snapshot and hands each to
 * `onExtent`, which returns false to stop early. Resolves `unavailable`
 * (with the reason) when no interpreter with librbd could open the
 * snapshot — the caller then verifies another way; fails when reading
 * breaks off after it started.
 */
export async function readSnapshotExtents(
  location: SnapshotLocation,
  extents: ReadonlyArray<readonly [number, number]>,
  onExtent: (offset: number, data: Buffer) => Promise<boolean>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SampleOutcome> {
  const override = env.BACKY_PYTHON3;
  const candidates = override ? [programPath('python3', env)] : ['python3', SYSTEM_PYTHON];
  const reasons: string[] = [];
  for (const python of candidates) {
    const outcome = await readWith(python, location, extents, onExtent, env);
    if (outcome.status !== 'unavailable') return outcome;
    reasons.push(`${python}: ${outcome.reason}`);
  }
  return { status: 'unavailable', reason: reasons.join('; ') };
}

async function readWith(
  python: string,
  location: SnapshotLocation,
  extents: ReadonlyArray<readonly [number, number]>,
  onExtent: (offset: number, data: Buffer) => Promise<boolean>,
  env: NodeJS.ProcessEnv,
): Promise<SampleOutcome> {
  const params = JSON.stringify({ ...location, timeouts: CEPH_TIMEOUTS });
  const child = spawn(python, ['-c', SCRIPT, params], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (data: string) => (stderr = (stderr + data).slice(-8192)));
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  // The requests are small; writing them all up front lets librbd read ahead.
  child.stdin.on('error', () => undefined);
  child.stdin.end(extents.map(([offset, length]) => `${offset} ${length}\n`).join(''));
  const reader = new ByteReader(child.stdout);
  const said = () => stderr.trim().split('\n').at(-1) ?? '';
  try {
    const ready = await reader.read(1);
    if (ready.toString() !== 'R') {
      const { code, error } = await exited;
      if (error) return { status: 'unavailable', reason: error.message };
      return { status: 'unavailable', reason: said() || `exit status ${code}` };
    }
    let done = 0;
    for (const [offset, length] of extents) {
      const data = await reader.read(length);
      if (data.length < length) {
        const { code } = await exited;
        throw new BackyError(
          `reading ${location.pool}/${location.image}@${location.snapshot} at byte ${offset} for verification failed: ${said() || `exit status ${code}`}`,
        );
      }
      done += 1;
      if (!(await onExtent(offset, data))) return { status: 'stopped', extents: done };
    }
    return { status: 'done', extents: done };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdout.destroy();
    await exited;
  }
}
