/** A real scheduler with its HTTP server on, a token file, and `curl` to talk to it. */
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configText, freePort, type SchedulerFixture } from '../scheduler/harness.js';

export const TOKENS = { ops: 'ops-0123456789abcdef', ci: 'ci-fedcba9876543210' };

export interface Curl {
  status: number;
  body: string;
  headers: string;
}

/** `curl -s` with the status code and headers, optionally as a client (a bearer token). */
export function curl(url: string, options: { token?: string; method?: string; args?: string[] } = {}): Curl {
  const args = ['-s', '-D', '-', '-X', options.method ?? 'GET', ...(options.token ? ['-H', `Authorization: Bearer ${options.token}`] : []), ...(options.args ?? []), url];
  const result = spawnSync('curl', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`curl ${args.join(' ')} failed: ${result.stderr}`);
  const split = result.stdout.indexOf('\r\n\r\n');
  const headers = result.stdout.slice(0, split);
  return { status: Number(/^HTTP\/[\d.]+ (\d+)/.exec(headers)![1]), headers, body: result.stdout.slice(split + 4) };
}

export function json(response: Curl): unknown {
  return JSON.parse(response.body) as unknown;
}

/** Writes the token file (owner only) and a configuration with the HTTP server on a free port. */
export async function httpConfig(
  fixture: SchedulerFixture,
  jobs: Record<string, { schedule: string; filename: string }>,
  schedules: Record<string, Record<string, { interval: string; keep: number }>>,
  global: Record<string, unknown> = {},
): Promise<{ base: string; tokens: string }> {
  const tokens = join(fixture.dir, 'tokens');
  writeFileSync(tokens, `# clients of the HTTP API\n${Object.entries(TOKENS).map(([name, token]) => `${name}: ${token}`).join('\n')}\n`);
  chmodSync(tokens, 0o600);
  const port = await freePort();
  fixture.writeConfig(
    configText({
      base: fixture.base,
      port: await freePort(),
      schedules,
      jobs,
      global: { 'http-addrs': '127.0.0.1', 'http-port': port, 'api-tokens': tokens, ...global },
    }),
  );
  return { base: `http://127.0.0.1:${port}`, tokens };
}
