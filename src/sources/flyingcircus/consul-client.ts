import { BackyError, errorCode } from '../../util/errors.js';

const DEFAULT_ADDRESS = '127.0.0.1:8500';
const REQUEST_TIMEOUT_MS = 10_000;
/** Consul answers these calls with `true`, `false` or a one-line error: more is not Consul. */
const ANSWER_LIMIT = 512;

/**
 * The two calls backy makes to Consul's KV store (`PUT` and `DELETE
 * /v1/kv/KEY`), at the address Consul's own tools use: CONSUL_HTTP_ADDR
 * (`host:port` or a URL; default 127.0.0.1:8500). The ACL token goes in
 * the `X-Consul-Token` header.
 */
export class ConsulClient {
  readonly baseUrl: string;

  constructor(
    private readonly token: string | undefined,
    env: NodeJS.ProcessEnv = process.env,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {
    const address = env.CONSUL_HTTP_ADDR && env.CONSUL_HTTP_ADDR.length > 0 ? env.CONSUL_HTTP_ADDR : DEFAULT_ADDRESS;
    const scheme = env.CONSUL_HTTP_SSL === 'true' ? 'https' : 'http';
    this.baseUrl = (/^https?:\/\//.test(address) ? address : `${scheme}://${address}`).replace(/\/+$/, '');
  }

  async put(key: string, value: string): Promise<void> {
    await this.request('PUT', key, value);
  }

  async delete(key: string): Promise<void> {
    await this.request('DELETE', key);
  }

  private async request(method: 'PUT' | 'DELETE', key: string, body?: string): Promise<void> {
    const url = `${this.baseUrl}/v1/kv/${key.split('/').map(encodeURIComponent).join('/')}`;
    const what = `Consul ${method} ${key} at ${this.baseUrl}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        body,
        headers: this.token ? { 'X-Consul-Token': this.token } : {},
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new BackyError(`${what} failed: ${networkReason(err, this.timeoutMs)} (set CONSUL_HTTP_ADDR if Consul listens elsewhere)`);
    }
    const text = (await readAnswer(response, ANSWER_LIMIT).catch(() => '')).trim();
    if (response.status === 403) {
      throw new BackyError(`${what} was refused: 403 ${text || 'Permission denied'} (check consul_acl_token in the job's source configuration)`);
    }
    if (!response.ok) throw new BackyError(`${what} failed: HTTP ${response.status} ${text.split('\n')[0] ?? ''}`.trimEnd());
    if (method === 'PUT' && text !== 'true') throw new BackyError(`${what} was not stored (Consul answered ${JSON.stringify(text)})`);
  }
}

/**
 * The start of the body: what is said must fit in a message, and reading
 * all of whatever answers at that address could take all memory.
 */
async function readAnswer(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** `connection refused`, `no answer within 10 s`, … from what fetch threw. */
function networkReason(err: unknown, timeoutMs: number): string {
  const error = err as Error & { cause?: unknown };
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = error.cause as (Error & { code?: string; errors?: Error[] }) | undefined;
  const code = errorCode(cause) ?? errorCode(cause?.errors?.[0]);
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    EHOSTUNREACH: 'host unreachable',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
  };
  return (code && reasons[code]) ?? cause?.message ?? error.message;
}
