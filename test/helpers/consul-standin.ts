/**
 * A stand-in for Consul's KV HTTP API (Consul is not installable here),
 * implementing what backy and the VM-host stand-in use as Consul documents
 * it: `PUT/GET/DELETE /v1/kv/KEY`, `?recurse`, `?keys`, `?raw`, `?cas=`,
 * blocking queries (`?index=N&wait=5s`, answered when the KV index moves
 * past N), the `X-Consul-Index` header, and ACL tokens (`X-Consul-Token`
 * header, `Authorization: Bearer`, or `?token=`): with ACLs on, a missing
 * or unknown token gets `403 Permission denied`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Entry {
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
}

export interface ConsulRequest {
  method: string;
  key: string;
  query: string;
  token: string | null;
  status: number;
}

export interface ConsulStandin {
  /** `127.0.0.1:PORT`, as CONSUL_HTTP_ADDR takes it. */
  readonly address: string;
  readonly url: string;
  /** Every request answered, in order. */
  readonly requests: ConsulRequest[];
  /** The keys currently stored. */
  keys(): string[];
  close(): Promise<void>;
}

export async function startConsulStandin(options: { aclToken?: string } = {}): Promise<ConsulStandin> {
  const store = new Map<string, Entry>();
  const requests: ConsulRequest[] = [];
  let index = 1;
  let waiters: Array<() => void> = [];
  const bump = (): number => {
    index += 1;
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
    return index;
  };

  const tokenOf = (req: IncomingMessage, query: URLSearchParams): string | null => {
    const header = req.headers['x-consul-token'];
    if (typeof header === 'string') return header;
    const bearer = /^Bearer\s+(.+)$/.exec(req.headers.authorization ?? '');
    return bearer ? bearer[1]! : query.get('token');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://consul');
    const body = await readBody(req);
    const query = url.searchParams;
    const token = tokenOf(req, query);
    const key = decodeURIComponent(url.pathname.replace(/^\/v1\/kv\/?/, ''));
    const answer = (status: number, text: string, type = 'application/json'): void => {
      requests.push({ method: req.method ?? '', key, query: url.search, token, status });
      res.writeHead(status, { 'Content-Type': type, 'X-Consul-Index': String(index) });
      res.end(text);
    };
    if (!url.pathname.startsWith('/v1/kv/')) return answer(404, '', 'text/plain');
    if (options.aclToken !== undefined && token !== options.aclToken) return answer(403, 'Permission denied', 'text/plain');
    switch (req.method) {
      case 'PUT': {
        const existing = store.get(key);
        const cas = query.get('cas');
        if (cas !== null && (cas === '0' ? existing !== undefined : existing?.modifyIndex !== Number(cas))) return answer(200, 'false');
        const at = bump();
        store.set(key, { value: body, flags: Number(query.get('flags') ?? existing?.flags ?? 0), createIndex: existing?.createIndex ?? at, modifyIndex: at });
        return answer(200, 'true');
      }
      case 'DELETE': {
        const doomed = query.has('recurse') ? [...store.keys()].filter((k) => k.startsWith(key)) : [key];
        if (doomed.some((k) => store.delete(k))) bump();
        return answer(200, 'true');
      }
      case 'GET': {
        const wanted = Number(query.get('index') ?? 0);
        if (wanted > 0 && wanted >= index) await waitForChange(parseWait(query.get('wait')));
        const matching = [...store.entries()]
          .filter(([k]) => (query.has('recurse') || query.has('keys') ? k.startsWith(key) : k === key))
          .sort(([a], [b]) => a.localeCompare(b));
        if (matching.length === 0) return answer(404, '', 'text/plain');
        if (query.has('keys')) return answer(200, JSON.stringify(matching.map(([k]) => k)));
        if (query.has('raw')) return answer(200, matching[0]![1].value.toString('latin1'), 'text/plain');
        return answer(
          200,
          JSON.stringify(
            matching.map(([k, e]) => ({
              LockIndex: 0,
              Key: k,
              Flags: e.flags,
              Value: e.value.length > 0 ? e.value.toString('base64') : null,
              CreateIndex: e.createIndex,
              ModifyIndex: e.modifyIndex,
            })),
          ),
        );
      }
      default:
        return answer(405, 'method not allowed', 'text/plain');
    }
  };

  const waitForChange = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    requests,
    keys: () => [...store.keys()].sort(),
    close: async () => {
      for (const wake of waiters) wake();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Consul's `wait` parameter: `10s`, `2m`, `500ms`; default 5 minutes, at most 10. */
function parseWait(text: string | null): number {
  const match = /^(\d+)(ms|s|m)$/.exec(text ?? '');
  if (!match) return 5 * 60_000;
  const value = Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as 'ms' | 's' | 'm'];
  return Math.min(value, 10 * 60_000);
}
