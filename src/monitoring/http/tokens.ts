import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { BackyError, describeIoError } from '../../util/errors.js';

/** Shorter tokens are guessable. */
const MIN_TOKEN_LENGTH = 16;
const CLIENT_NAME = /^[A-Za-z0-9_.@+-]{1,64}$/;

/**
 * The HTTP server's clients (`api-tokens`: one `NAME: TOKEN` per line, `#`
 * comments): who a bearer token belongs to. Tokens are compared in
 * constant time and never printed, not even in errors about the file.
 */
export class TokenBook {
  private constructor(private readonly entries: ReadonlyArray<{ name: string; digest: Buffer }>) {}

  static readonly empty = new TokenBook([]);

  /** The client a token belongs to, or null. */
  clientOf(token: string): string | null {
    const digest = sha256(token);
    let found: string | null = null;
    for (const entry of this.entries) if (timingSafeEqual(entry.digest, digest)) found ??= entry.name;
    return found;
  }

  /** A fingerprint of the client's current token (sessions end when it changes), or null for no such client. */
  fingerprint(name: string): string | null {
    return this.entries.find((entry) => entry.name === name)?.digest.toString('hex') ?? null;
  }

  get size(): number {
    return this.entries.length;
  }

  static parse(text: string, file: string): TokenBook {
    const entries: Array<{ name: string; digest: Buffer }> = [];
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim();
      if (line.length === 0 || line.startsWith('#')) return;
      const where = `${file}, line ${index + 1}`;
      const colon = line.indexOf(':');
      if (colon < 0) throw new BackyError(`${where}: expected "NAME: TOKEN"`);
      const name = line.slice(0, colon).trim();
      const token = line.slice(colon + 1).trim();
      if (!CLIENT_NAME.test(name)) throw new BackyError(`${where}: the client name must be letters, digits, "_", ".", "@", "+", "-"`);
      if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
        throw new BackyError(`${where}: the token of ${name} must be at least ${MIN_TOKEN_LENGTH} characters without blanks`);
      }
      if (entries.some((entry) => entry.name === name)) throw new BackyError(`${where}: client ${name} is named twice`);
      const digest = sha256(token);
      if (entries.some((entry) => entry.digest.equals(digest))) throw new BackyError(`${where}: ${name} has the token of another client`);
      entries.push({ name, digest });
    });
    return new TokenBook(entries);
  }
}

/**
 * Reads the token file; refuses one that anybody but its owner may read or
 * write (group or others), or that belongs to another user than the
 * scheduler's own or root (that user could read it), as ssh does with
 * private keys.
 */
export async function readTokenFile(path: string): Promise<TokenBook> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new BackyError(`api-tokens ${path} is not a regular file`);
    if ((info.mode & 0o077) !== 0) {
      throw new BackyError(
        `api-tokens ${path} may be read or written by others (mode ${(info.mode & 0o777).toString(8)}); ` +
          `allow only its owner: chmod 600 ${path}`,
      );
    }
    const self = process.getuid?.() ?? 0;
    if (info.uid !== self && info.uid !== 0) {
      throw new BackyError(
        `api-tokens ${path} belongs to uid ${info.uid}, who may read it; ` +
          `it must belong to the scheduler's user or root: chown ${self} ${path}`,
      );
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw describeIoError(err, `cannot read api-tokens ${path}`);
  }
  return TokenBook.parse(text, path);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
