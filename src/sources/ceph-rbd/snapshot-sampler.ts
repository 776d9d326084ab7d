import { spawn, type ChildProcess } from 'node:child_process';
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
import collections, json, os, shlex, sys, threading
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
# Up to WINDOW reads in flight (librbd completes them on its own threads);
# answers go out in request order.
WINDOW = 16
pending = collections.deque()
def start(offset, length):
    done = threading.Event()
    slot = [offset, length, done, None]
    def complete(completion, data):
        slot[3] = data if completion.get_return_value() >= 0 else None
        done.set()
    image.aio_read(offset, length, complete)
    pending.append(slot)
def finish_oldest():
    slot = pending.popleft()
    slot[2].wait()
    offset, length, data = slot[0], slot[1], slot[3]
    if data is None or len(data) != length:
        sys.stderr.write('read failed at byte %d: %s of %d bytes\n' % (offset, 'none' if data is None else len(data), length))
        sys.exit(5)
    out.write(data)
for line in sys.stdin.buffer:
    offset, length = (int(v) for v in line.split())
    start(offset, length)
    if len(pending) >= WINDOW:
        finish_oldest()
while pending:
    finish_oldest()
out.flush()
`;

/**
 * Debian's python3-rbd installs into the system interpreter, tried first:
 * PATH may lead to another one (pyenv, a virtualenv) without it.
 */
const SYSTEM_PYTHON = '/usr/bin/python3';

export interface SnapshotLocation {
  pool: string;
  image: string;
  snapshot: string;
}

export type SampleOutcome = { status: 'done'; extents: number } | { status: 'stopped'; extents: number } | { status: 'unavailable'; reason: string };

/** One interpreter running the script: connecting, then serving requests. */
interface SamplerProcess {
  python: string;
  child: ChildProcess;
  reader: ByteReader;
  exited: Promise<{ code: number | null; error?: Error }>;
  said(): string;
}

/**
 * Reads extents of one snapshot through librbd. `start()` spawns the
 * interpreter at once, so that it connects to the cluster while the
 * backup is still transferring; `read()` then serves the sample.
 */
export class SnapshotSampler {
  private readonly candidates: string[];
  private first: SamplerProcess | null = null;

  constructor(
    private readonly location: SnapshotLocation,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.candidates = env.BACKY_PYTHON3 ? [programPath('python3', env)] : [SYSTEM_PYTHON, 'python3'];
  }

  start(): this {
    this.first ??= this.spawn(this.candidates[0]!);
    return this;
  }

  /**
   * Reads `extents` (in order) and hands each to `onExtent` (in a buffer
   * reused afterwards), which returns false to stop early. Resolves
   * `unavailable` (with the reasons) when no interpreter with librbd could
   * open the snapshot — the caller then verifies another way; fails when
   * reading breaks off after it started.
   */
  async read(extents: ReadonlyArray<readonly [number, number]>, onExtent: (offset: number, data: Buffer) => Promise<boolean>): Promise<SampleOutcome> {
    const reasons: string[] = [];
    for (const [index, python] of this.candidates.entries()) {
      const process = index === 0 ? this.start().first! : this.spawn(python);
      if (index === 0) this.first = null;
      const outcome = await this.readWith(process, extents, onExtent);
      if (outcome.status !== 'unavailable') return outcome;
      reasons.push(`${python}: ${outcome.reason}`);
    }
    return { status: 'unavailable', reason: reasons.join('; ') };
  }

  /** Stops an interpreter that was started but not used. */
  async close(): Promise<void> {
    if (this.first) await stop(this.first);
    this.first = null;
  }

  private spawn(python: string): SamplerProcess {
    const params = JSON.stringify({ ...this.location, timeouts: CEPH_TIMEOUTS });
    const child = spawn(python, ['-c', SCRIPT, params], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (data: string) => (stderr = (stderr + data).slice(-8192)));
    child.stdin?.on('error', () => undefined);
    const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.on('error', (error) => resolve({ code: null, error }));
      child.on('close', (code) => resolve({ code }));
    });
    return { python, child, reader: new ByteReader(child.stdout!), exited, said: () => stderr.trim().split('\n').at(-1) ?? '' };
  }

  private async readWith(
    process: SamplerProcess,
    extents: ReadonlyArray<readonly [number, number]>,
    onExtent: (offset: number, data: Buffer) => Promise<boolean>,
  ): Promise<SampleOutcome> {
    const { child, reader, location } = { ...process, location: this.location };
    // The requests are small; writing them all up front lets librbd read ahead.
    child.stdin?.end(extents.map(([offset, length]) => `${offset} ${length}\n`).join(''));
    try {
      const ready = await reader.read(1);
      if (ready.toString() !== 'R') {
        const { code, error } = await process.exited;
        return { status: 'unavailable', reason: error ? error.message : process.said() || `exit status ${code}` };
      }
      let done = 0;
      const buffer = Buffer.allocUnsafe(extents.reduce((max, [, length]) => Math.max(max, length), 0));
      for (const [offset, length] of extents) {
        const data = buffer.subarray(0, await reader.readInto(buffer, length));
        if (data.length < length) {
          const { code } = await process.exited;
          throw new BackyError(
            `reading ${location.pool}/${location.image}@${location.snapshot} at byte ${offset} for verification failed: ` +
              (process.said() || `exit status ${code}`),
          );
        }
        done += 1;
        if (!(await onExtent(offset, data))) return { status: 'stopped', extents: done };
      }
      return { status: 'done', extents: done };
    } finally {
      await stop(process);
    }
  }
}

async function stop(process: SamplerProcess): Promise<void> {
  const { child } = process;
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child.stdout?.destroy();
  await process.exited;
}
