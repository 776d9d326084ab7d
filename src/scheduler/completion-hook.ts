import { spawn } from 'node:child_process';
import YAML from 'yaml';
import { reportRevisions } from '../job/revision-report.js';
import type { JobDirectory } from '../job/job-directory.js';
import type { Logger } from '../util/logger.js';
import { printable } from '../util/printable.js';

/** Hooks running at once; more are skipped with a warning (a hook that hangs every time must not pile up). */
const MAX_RUNNING_HOOKS = 16;
/** Lines of a hook's output that reach the scheduler's log. */
const MAX_OUTPUT_LINES = 5;

/**
 * `backup-completed-callback` (backy 2.5): after each completed backup runs
 * PROGRAM JOB with the job's `backy status --yaml` on stdin. It runs beside
 * the scheduler, never in its way: the next backup does not wait for it; a
 * hook still running after its timeout is killed with its whole process
 * group; how it ended, and the first lines of its output, are logged.
 */
export class CompletionHooks {
  private readonly running = new Set<Promise<void>>();
  private readonly groups = new Set<number>();

  constructor(private readonly logger: Logger) {}

  run(program: string, timeoutSeconds: number, job: string, directory: JobDirectory): void {
    if (this.running.size >= MAX_RUNNING_HOOKS) {
      this.logger.warn(`job ${job}: backup-completed-callback not run: ${MAX_RUNNING_HOOKS} are still running`);
      return;
    }
    const done: Promise<void> = this.runOne(program, timeoutSeconds, job, directory)
      .catch((err: unknown) => this.logger.error(`job ${job}: backup-completed-callback ${program}: ${(err as Error).message}`))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Kills the hooks still running (scheduler shutdown). */
  stop(): void {
    for (const group of this.groups) killGroup(group);
  }

  private async runOne(program: string, timeoutSeconds: number, job: string, directory: JobDirectory): Promise<void> {
    const input = YAML.stringify(await reportRevisions(directory));
    // A group of its own, so that the timeout also ends what the hook started.
    const child = spawn(program, [job], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const output: string[] = [];
    const collect = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT_LINES) output.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim().length > 0).map(printable));
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.stdin.on('error', () => undefined); // a hook need not read its input
    child.stdin.end(input);
    if (child.pid !== undefined) this.groups.add(child.pid);
    let timedOut = false;
    const timer = setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) {
        // The hook ended, but something it left behind holds its output open: stop listening, leave it be.
        child.stdout.destroy();
        child.stderr.destroy();
        return;
      }
      timedOut = true;
      if (child.pid !== undefined) killGroup(child.pid);
    }, timeoutSeconds * 1000);
    try {
      // 'close', not 'exit': its output may still be in the pipes when it exits.
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
      });
      const said = output.length > 0 ? `: ${output.slice(0, MAX_OUTPUT_LINES).join(' / ')}` : '';
      if (timedOut) this.logger.error(`job ${job}: backup-completed-callback ${program} killed after its timeout of ${timeoutSeconds} s${said}`);
      else if (code === 0) this.logger.info(`job ${job}: backup-completed-callback ${program} succeeded${said}`);
      else this.logger.error(`job ${job}: backup-completed-callback ${program} failed with ${signal ? `signal ${signal}` : `exit status ${code}`}${said}`);
    } finally {
      clearTimeout(timer);
      if (child.pid !== undefined) this.groups.delete(child.pid);
    }
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
