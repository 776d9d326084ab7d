import { spawn } from 'node:child_process';
import type { Stream } from 'node:stream';
import { throwIfAborted } from '../../util/abort.js';
import { BackyError, errorCode } from '../../util/errors.js';
import { programPath, runProgram } from '../../util/programs.js';
import { describeRbdFailure } from './rbd-errors.js';

export interface RbdSnapshot {
  id: number;
  name: string;
  /** The image's size when the snapshot was taken. */
  size: number;
  protected: boolean;
}

/** A running `rbd export`/`export-diff` writing to its stdout. */
export interface RbdStream {
  readonly stdout: AsyncIterable<Buffer>;
  /**
   * Waits for rbd to exit: null when it succeeded, or died only because it
   * was stopped; otherwise its failure, described.
   */
  outcome(): Promise<BackyError | null>;
  /** Stops rbd early (the reader gave up). */
  stop(): void;
}

/** How long rbd may take to exit after closing its output before it is stopped. */
const EXIT_GRACE_MS = 10_000;

/** Exit status of rbd when its reader went away (EPIPE). */
const BROKEN_PIPE = 32;

/**
 * Reads a stream to its end with `read`, then checks how rbd exited. When
 * reading fails, rbd is stopped, and its own failure (a missing snapshot,
 * a lost cluster) explains a cut-off stream better than the reader can.
 */
export async function consumeRbdStream<T>(stream: RbdStream, signal: AbortSignal, read: (stdout: AsyncIterable<Buffer>) => Promise<T>): Promise<T> {
  let value: T;
  try {
    value = await read(stream.stdout);
  } catch (err) {
    stream.stop();
    const failure = await stream.outcome();
    throwIfAborted(signal);
    throw failure ?? err;
  }
  const failure = await stream.outcome();
  if (failure) throw failure;
  return value;
}

/**
 * Bounds on how long librados waits, so that an unreachable cluster fails
 * a backup with a reason instead of hanging it (librados' own defaults
 * wait 5 minutes to connect and forever for an operation). Options set in
 * CEPH_ARGS win: it is the operator's way to tune them.
 */
export const CEPH_TIMEOUTS: ReadonlyArray<[option: string, seconds: number]> = [
  ['client_mount_timeout', 20],
  ['rados_mon_op_timeout', 30],
  ['rados_osd_op_timeout', 120],
];

/** Short commands (snapshots, listing) are killed if they take longer than this. */
const COMMAND_TIMEOUT_MS = 180_000;
const STDERR_LIMIT = 16 * 1024;
/** Runs `$2 …` and, when it succeeds, writes `$1` to descriptor 3 (where no one listens, never mind). */
const ANNOUNCING_SHELL = 'announce=$1; shift; "$@"; status=$?; if [ $status -eq 0 ]; then (printf %s "$announce" >&3) 2>/dev/null; fi; exit $status';

export function timeoutArguments(env: NodeJS.ProcessEnv): string[] {
  const cephArgs = (env.CEPH_ARGS ?? '').replace(/-/g, '_');
  return CEPH_TIMEOUTS.filter(([option]) => !cephArgs.includes(option)).flatMap(([option, seconds]) => [`--${option}`, String(seconds)]);
}

/**
 * The `rbd` program for one image, run with the caller's environment
 * (CEPH_CONF, CEPH_ARGS, CEPH_CLUSTER reach it unchanged) at the path
 * BACKY_RBD names, or `rbd` from PATH.
 */
export class RbdClient {
  private readonly program: string;

  /** `inherit`: streams every short rbd command holds as descriptors 3 and on (see rbd-restore-watchdog). */
  constructor(
    readonly pool: string,
    readonly image: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly inherit: readonly Stream[] = [],
  ) {
    this.program = programPath('rbd', env);
  }

  /** `pool/image`, or `pool/image@snapshot`. */
  spec(snapshot?: string): string {
    return `${this.pool}/${this.image}${snapshot ? `@${snapshot}` : ''}`;
  }

  async snapshots(): Promise<RbdSnapshot[]> {
    const { stdout } = await this.run(['snap', 'ls', '--format', 'json', this.spec()]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      throw new BackyError(`rbd snap ls ${this.spec()} printed something other than JSON: ${JSON.stringify(stdout.slice(0, 200))}`);
    }
    if (!Array.isArray(parsed)) throw new BackyError(`rbd snap ls ${this.spec()} printed no list`);
    return parsed.map((entry: unknown) => {
      // The size becomes the revision's: an entry without a sound one must not get that far.
      const { id, name, size, protected: isProtected } = (entry ?? {}) as Record<string, unknown>;
      if (typeof name !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new BackyError(`rbd snap ls ${this.spec()} printed a snapshot without a name and size: ${JSON.stringify(entry)?.slice(0, 200)}`);
      }
      return { id: Number(id), name, size, protected: isProtected === true || isProtected === 'true' };
    });
  }

  /** `exists` when a snapshot of that name is already there. */
  async createSnapshot(name: string): Promise<'created' | 'exists'> {
    const result = await this.run(['snap', 'create', '--no-progress', this.spec(name)], [17]);
    return result.exitCode === 17 ? 'exists' : 'created';
  }

  async removeSnapshot(name: string): Promise<'removed' | 'protected' | 'missing'> {
    const result = await this.run(['snap', 'rm', '--no-progress', this.spec(name)], [2, 16]);
    if (result.exitCode === 16) return 'protected';
    return result.exitCode === 2 ? 'missing' : 'removed';
  }

  /** The changes from one snapshot to a later one, as an `rbd diff v1` stream. */
  exportDiff(fromSnapshot: string, toSnapshot: string, signal: AbortSignal): RbdStream {
    return this.stream(['export-diff', '--no-progress', '--from-snap', fromSnapshot, this.spec(toSnapshot), '-'], signal);
  }

  /** A snapshot's whole content, every byte in order. */
  export(snapshot: string, signal: AbortSignal): RbdStream {
    return this.stream(['export', '--no-progress', this.spec(snapshot), '-'], signal);
  }

  private command(args: string[]): string {
    return `rbd ${args.filter((arg) => arg !== '--no-progress' && arg !== '--format' && arg !== 'json').join(' ')}`;
  }

  /**
   * A short rbd command; exit statuses in `acceptedCodes` are answers, not
   * failures. `announce` is written to the first inherited stream when rbd
   * succeeds — by a shell that waits for rbd, so the word gets out also
   * when this process is gone by then.
   */
  async run(args: string[], acceptedCodes: number[] = [], announce?: string): Promise<{ stdout: string; exitCode: number }> {
    const rbdArgs = [...timeoutArguments(this.env), ...args];
    const [program, programArgs] =
      announce !== undefined && this.inherit.length > 0
        ? ['/bin/sh', ['-c', ANNOUNCING_SHELL, 'sh', announce, this.program, ...rbdArgs]]
        : [this.program, rbdArgs];
    let result;
    try {
      result = await runProgram(program, programArgs, { env: this.env, timeoutMs: COMMAND_TIMEOUT_MS, inherit: this.inherit });
    } catch (err) {
      throw this.spawnFailure(err);
    }
    if (result.exitCode === 0 || (result.exitCode !== null && acceptedCodes.includes(result.exitCode))) {
      return { stdout: result.stdout, exitCode: result.exitCode };
    }
    if (result.signal === 'SIGKILL') {
      throw new BackyError(`${this.command(args)} did not finish within ${COMMAND_TIMEOUT_MS / 1000} s: is the Ceph cluster healthy?`);
    }
    throw describeRbdFailure({ command: this.command(args), pool: this.pool, image: this.image, ...result });
  }

  private stream(args: string[], signal: AbortSignal): RbdStream {
    const child = spawn(this.program, [...timeoutArguments(this.env), ...args], {
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (data: string) => {
      stderr = (stderr + data).slice(-STDERR_LIMIT);
    });
    const onAbort = () => child.kill('SIGTERM');
    signal.addEventListener('abort', onAbort, { once: true });
    const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', (err) => reject(this.spawnFailure(err)));
      child.on('close', (exitCode, exitSignal) => resolve({ exitCode, signal: exitSignal }));
    }).finally(() => signal.removeEventListener('abort', onAbort));
    // Rejections are reported through finished(); never leave one unhandled.
    exited.catch(() => undefined);
    let stopped = false;
    return {
      stdout: child.stdout,
      outcome: async () => {
        let result;
        try {
          result = await exited;
        } catch (err) {
          return err as BackyError;
        }
        if (result.exitCode === 0) return null;
        if (stopped && (result.signal !== null || result.exitCode === BROKEN_PIPE)) return null;
        return describeRbdFailure({ command: this.command(args), pool: this.pool, image: this.image, stderr, ...result });
      },
      stop: () => {
        stopped = true;
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (!child.stdout.readableEnded) {
          child.stdout.destroy();
          child.kill('SIGTERM');
          return;
        }
        // rbd closed its output: it is exiting on its own and may still be
        // saying why (librados takes a moment to shut down).
        const timer = setTimeout(() => child.kill('SIGTERM'), EXIT_GRACE_MS);
        child.on('exit', () => clearTimeout(timer));
      },
    };
  }

  private spawnFailure(err: unknown): BackyError {
    if (errorCode(err) === 'ENOENT') {
      return new BackyError(`cannot run ${this.program}: program not found (install ceph-common or set BACKY_RBD)`);
    }
    return new BackyError(`cannot run ${this.program}: ${(err as Error).message}`);
  }
}
