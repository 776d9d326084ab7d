import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Stream, Writable } from 'node:stream';
import { BackyError, errorCode } from '../../util/errors.js';
import { programPath } from '../../util/programs.js';
import { RbdClient, timeoutArguments } from './rbd-client.js';
import { describeRbdFailure } from './rbd-errors.js';

const STDERR_LIMIT = 16 * 1024;
/** How long a stopped rbd may take to close its image before it is killed. */
const STOP_GRACE_MS = 10_000;

/** Told to the first inherited stream once rbd has made the image (see rbd-restore-watchdog). */
export const IMAGE_MADE = 'made\n';

/** A long rbd command (import-diff, migration execute) while it runs. */
export interface RbdRun {
  /** Its standard input (import-diff reads the diff stream from it). */
  readonly stdin: Writable;
  /** Null when it succeeded; otherwise its failure, described. */
  outcome(): Promise<BackyError | null>;
  /**
   * Stops it: its input is closed (import-diff then ends on its own and
   * closes the image, leaving no watcher that would keep it from being
   * removed for 30 s); what is still running after a grace period gets SIGTERM.
   */
  stop(): void;
}

/**
 * The RBD image a restore creates: made new (never one that exists),
 * filled by `rbd import-diff` or by Ceph's import-only migration from an
 * HTTP source, and removed again when the restore does not finish.
 */
export class RbdTarget {
  readonly client: RbdClient;
  private readonly program: string;

  /** `inherit`: streams every rbd it runs holds as descriptors 3 and on (see rbd-restore-watchdog). */
  constructor(
    readonly pool: string,
    readonly image: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly inherit: readonly Stream[] = [],
  ) {
    this.client = new RbdClient(pool, image, env, inherit);
    this.program = programPath('rbd', env);
  }

  get spec(): string {
    return this.client.spec();
  }

  async exists(): Promise<boolean> {
    return (await this.client.run(['info', this.spec], [2])).exitCode === 0;
  }

  /** `exists` when an image of that name is there already: it is not ours to write. */
  async create(size: number): Promise<'created' | 'exists'> {
    const result = await this.client.run(['create', '--size', `${size}B`, this.spec], [17], IMAGE_MADE);
    return result.exitCode === 17 ? 'exists' : 'created';
  }

  /** `busy` while a client still has it open (a killed rbd's watch lasts until Ceph times it out, 30 s). */
  async remove(): Promise<'removed' | 'busy'> {
    return (await this.client.run(['rm', '--no-progress', this.spec], [2, 16])).exitCode === 16 ? 'busy' : 'removed';
  }

  /** `rbd import-diff - IMAGE`: the caller writes an rbd diff v1 stream to `stdin`. */
  importDiff(): RbdRun {
    return this.spawn(['import-diff', '--no-progress', '-', this.spec], () => undefined, STOP_GRACE_MS);
  }

  /** Creates the image as the target of an import-only migration from `url`; `exists` if the name is taken. */
  async prepareImport(url: string): Promise<'prepared' | 'exists'> {
    const sourceSpec = JSON.stringify({ type: 'raw', stream: { type: 'http', url } });
    const result = await this.client.run(['migration', 'prepare', '--import-only', '--source-spec', sourceSpec, this.spec], [17], IMAGE_MADE);
    return result.exitCode === 17 ? 'exists' : 'prepared';
  }

  /** `rbd migration execute`, reporting the percentage rbd prints as it copies. */
  execute(onPercent: (percent: number) => void): RbdRun {
    return this.spawn(['migration', 'execute', this.spec], (text) => {
      for (const match of text.matchAll(/(\d{1,3})% complete/g)) onPercent(Math.min(100, Number(match[1])));
    }, 0);
  }

  async commit(): Promise<void> {
    await this.client.run(['migration', 'commit', '--no-progress', this.spec]);
  }

  /** `rbd migration abort`: for an import, the image goes with it (a missing image has nothing to abort); `busy` as for `remove`. */
  async abort(): Promise<'aborted' | 'busy'> {
    return (await this.client.run(['migration', 'abort', '--no-progress', this.spec], [2, 16])).exitCode === 16 ? 'busy' : 'aborted';
  }

  private spawn(args: string[], onStderr: (text: string) => void, graceMs: number): RbdRun {
    // The inherited streams beyond the first three make TypeScript forget which of those are pipes.
    const child = spawn(this.program, [...timeoutArguments(this.env), ...args], {
      env: this.env,
      stdio: ['pipe', 'ignore', 'pipe', ...this.inherit],
    }) as ChildProcessByStdio<Writable, null, Readable>;
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-STDERR_LIMIT);
      onStderr(text);
    });
    // rbd gone early is told by its exit status, not by a write into its closed pipe.
    child.stdin.on('error', () => undefined);
    const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null } | Error>((resolve) => {
      child.on('error', (err) => resolve(err));
      child.on('close', (exitCode, signal) => resolve({ exitCode, signal }));
    });
    const command = `rbd ${args.filter((arg) => arg !== '--no-progress').join(' ')}`;
    return {
      stdin: child.stdin,
      outcome: async () => {
        const result = await exited;
        if (result instanceof Error) {
          return new BackyError(`cannot run ${this.program}: ${errorCode(result) === 'ENOENT' ? 'program not found (install ceph-common or set BACKY_RBD)' : result.message}`);
        }
        if (result.exitCode === 0) return null;
        return describeRbdFailure({ command, pool: this.pool, image: this.image, stderr, ...result });
      },
      stop: () => {
        child.stdin.destroy();
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        }, graceMs);
        child.once('close', () => clearTimeout(timer));
      },
    };
  }
}
