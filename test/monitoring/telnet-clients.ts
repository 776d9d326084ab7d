/**
 * Drives the telnet shell through real client programs (`telnet`, `nc`):
 * each line is sent when the shell has answered the previous one with a
 * new prompt, so nothing depends on sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { TELNET_PROMPT } from '../../src/monitoring/telnet-shell.js';

export interface Transcript {
  stdout: Buffer;
  stderr: string;
  code: number | null;
}

const DEADLINE_MS = 20_000;

/**
 * Runs `program args`, sends `lines[i]` (raw, with its own line ending) once
 * the output holds i + 1 prompts, and resolves when the program exits —
 * normally because the shell closed the session after the last line.
 * `telnet` exits when the server closes; `nc` only once its input has ended
 * too, so its input is closed after the last line (it still reads the
 * connection to its end).
 */
export function converse(program: 'telnet' | 'nc', args: string[], lines: Array<string | Buffer>): Promise<Transcript> {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  let stderr = '';
  let sent = 0;
  const prompts = () => Buffer.concat(stdout).toString('latin1').split(TELNET_PROMPT).length - 1;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout.push(chunk);
    while (sent < lines.length && prompts() >= sent + 1) {
      child.stdin.write(lines[sent++]);
      if (sent === lines.length && program === 'nc') child.stdin.end();
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.on('error', () => undefined); // the client may exit before reading everything we wrote
  return finished(child, () => ({ stdout: Buffer.concat(stdout), stderr, code: child.exitCode }));
}

/** Resolves with `result()` when the child exits; kills it and rejects after the deadline. */
export function finished<T>(child: ChildProcess, result: () => T, deadlineMs = DEADLINE_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${child.spawnargs.join(' ')} did not finish within ${deadlineMs} ms: ${JSON.stringify(result())}`));
    }, deadlineMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve(result());
    });
  });
}

/** The text between the first prompt and the end, with CRLF as LF (what a person sees). */
export function session(output: Buffer): string {
  const text = output.toString('utf8').replace(/\r\n/g, '\n');
  return text.slice(text.indexOf(TELNET_PROMPT));
}

/** A TCP port nothing listens on right now, on every loopback address. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '::', port: 0 }, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}
