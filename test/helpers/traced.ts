/**
 * Forcing an order between processes without timing: a backy command run
 * under strace and stopped (SIGSTOP, by strace's fault injection) at a
 * chosen system call, then let go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BACKY_MAIN } from './cli.js';
import { waitUntil } from './job-files.js';

let counter = 0;

/** How the traced backy ended: strace exits with its status, or by raising the signal that killed it. */
export interface TracedExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** Less strace's own notes (a -P path that is a symbolic link is traced as what it resolves to, too, and it says so). */
  stderr: string;
}

export interface Traced {
  strace: ChildProcess;
  exited: Promise<TracedExit>;
  /** The backy process strace runs. */
  pid(): number;
  /** What strace has written so far of the syscalls and signals it saw. */
  log(): string;
  /** Ends strace and the backy if they still run (a failed check leaves none to finish later on its own). */
  kill(): void;
}

/**
 * `backy ARGS` under strace, stopped (SIGSTOP) when a thread first enters
 * one of `syscalls` (with `paths`, one on those paths only); strace's log
 * goes into `logDirectory`.
 */
export function stoppedAt(logDirectory: string, syscalls: string, args: string[], options: { paths?: string[] } = {}): Traced {
  const logPath = join(logDirectory, `strace-${process.pid}-${counter++}.log`);
  const filter = (options.paths ?? []).flatMap((path) => ['-P', path]);
  const strace = spawn('strace', ['-f', '-qq', '-o', logPath, ...filter, '-e', `trace=${syscalls}`, '-e', `inject=${syscalls}:signal=SIGSTOP:when=1`, process.execPath, BACKY_MAIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  strace.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  strace.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<TracedExit>((resolve) =>
    strace.once('close', (code, signal) => resolve({ code, signal, stdout, stderr: stderr.replace(/^strace: .*\n/gm, '') })),
  );
  // Not just strace's first child: at its start strace forks short-lived children of its own (copies of itself, with its
  // command line) to probe ptrace, stopped ones too; the one that runs backy is the one that has exec'd node.
  const pid = () => {
    for (const child of readFileSync(`/proc/${strace.pid}/task/${strace.pid}/children`, 'utf8').trim().split(/\s+/)) {
      try {
        const [program, main] = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
        if (program === process.execPath && main === BACKY_MAIN) return Number(child);
      } catch {
        // Gone meanwhile: one of strace's own.
      }
    }
    return NaN;
  };
  const log = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  const kill = () => {
    if (strace.exitCode !== null || strace.signalCode !== null) return;
    const tracee = pid();
    if (!Number.isNaN(tracee)) process.kill(tracee, 'SIGKILL');
    strace.kill('SIGKILL');
  };
  return { strace, exited, pid, log, kill };
}

/**
 * Lets a stopped process run to its end. strace counts `when=1` per
 * thread, and Node's file system calls run on several pool threads: a
 * later call on another thread stops it again, so it is continued until
 * it has exited.
 */
export async function resume(traced: Traced, pid: number, limitMs = 60_000): Promise<TracedExit> {
  // One that has ended meanwhile (ESRCH) needs nothing more: its result is awaited below.
  const cont = () => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  };
  const again = setInterval(() => {
    if (isStopped(pid)) cont();
  }, 20);
  cont();
  // One that hangs once let go is a failure, not a test that never ends.
  const limit = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`backy still running ${limitMs / 1000} s after it was let go`)), limitMs).unref());
  try {
    return await Promise.race([traced.exited, limit]);
  } finally {
    clearInterval(again);
  }
}

export function isStopped(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}

/**
 * Waits until the traced backy is held by the injected SIGSTOP. Its state
 * alone does not tell: a tracee shows `t` at every system call strace
 * stops it at on the way, so strace's own word that it stopped is awaited.
 */
export async function untilStopped(traced: Traced, what: string): Promise<number> {
  let pid = NaN;
  await waitUntil(() => {
    if (!traced.log().includes('--- stopped by SIGSTOP ---')) return false;
    try {
      pid = traced.pid();
      return isStopped(pid);
    } catch {
      return false;
    }
  }, what);
  return pid;
}
