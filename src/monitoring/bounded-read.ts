import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The file is not something to read (a FIFO, a device, far too big); the message says what it is. */
export class FileKindError extends Error {}

/**
 * Reads a regular file of at most `maxBytes` in a child process, for a
 * reader that must answer in time (`backy check`): a read stuck on a hung
 * filesystem would hold up this process's exit for as long as it hangs
 * (Node waits for its I/O threads), the child's is left behind. `signal`
 * gives up the read (the child is killed). I/O errors are thrown with
 * their errno code, as from `fs`. `what` names the file in the message
 * about its size.
 */
export async function readFileBounded(path: string, maxBytes: number, signal?: AbortSignal, what = 'status file'): Promise<string> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./file-reader-child.js', import.meta.url)), path, String(maxBytes), what], {
    stdio: ['ignore', 'pipe', 'pipe'],
    signal,
    killSignal: 'SIGKILL',
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exit) => resolve(exit));
  });
  if (code === 0) return Buffer.concat(stdout).toString('utf8');
  if (code === 3) throw new FileKindError(stderr);
  throw Object.assign(new Error(stderr || `the reader of ${path} ended with status ${code}`), { code: /^E[A-Z]+$/.test(stderr) ? stderr : undefined });
}
