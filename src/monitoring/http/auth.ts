import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TokenBook } from './tokens.js';

export const SESSION_COOKIE = 'backy_session';
/** How long a dashboard session lasts. */
export const SESSION_SECONDS = 12 * 3600;

/**
 * Who is asking: a bearer token from the token file (API clients), or a
 * session cookie the dashboard handed out for one. Sessions are signed
 * with a key of this process (a restart logs everybody out) over the
 * client's name, expiry and current token, so they end when the token is
 * changed or removed from the file.
 */
export class Authenticator {
  private readonly key = randomBytes(32);

  constructor(private readonly tokens: () => TokenBook) {}

  /** The client of an `Authorization: Bearer TOKEN` header; null when missing or wrong. */
  bearer(header: string | undefined): string | null {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    return match ? this.tokens().clientOf(match[1]!) : null;
  }

  client(token: string): string | null {
    return this.tokens().clientOf(token);
  }

  newSession(client: string, now: Date): string {
    const expires = Math.floor(now.getTime() / 1000) + SESSION_SECONDS;
    return `${client}.${expires}.${this.sign(client, expires)}`;
  }

  /** The client of a session cookie still valid at `now`, or null. */
  session(cookie: string | undefined, now: Date): string | null {
    const match = /^([A-Za-z0-9_.@+-]+)\.(\d+)\.([0-9a-f]{64})$/.exec(cookie ?? '');
    if (!match) return null;
    const [, client, expiresText, mac] = match as unknown as [string, string, string, string];
    const expires = Number(expiresText);
    if (expires * 1000 <= now.getTime()) return null;
    const expected = this.sign(client, expires);
    if (expected === null || !timingSafeEqual(Buffer.from(expected), Buffer.from(mac))) return null;
    return client;
  }

  private sign(client: string, expires: number): string | null {
    const fingerprint = this.tokens().fingerprint(client);
    if (fingerprint === null) return null;
    return createHmac('sha256', this.key).update(`${client}\n${expires}\n${fingerprint}`).digest('hex');
  }
}
