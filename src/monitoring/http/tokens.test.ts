import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator } from './auth.js';
import { TokenBook } from './tokens.js';

const FILE = '/etc/backy/tokens';

test('the token file: NAME: TOKEN lines and comments; mistakes are named by line, never with the token', () => {
  const book = TokenBook.parse('# clients\n\nops: ops-0123456789abcdef\n  ci :  ci-0123456789abcdef  \n', FILE);
  assert.equal(book.size, 2);
  assert.equal(book.clientOf('ops-0123456789abcdef'), 'ops');
  assert.equal(book.clientOf('ci-0123456789abcdef'), 'ci');
  assert.equal(book.clientOf('ops-0123456789abcde'), null);
  const refused = (text: string, message: string) => assert.throws(() => TokenBook.parse(text, FILE), { message });
  refused('ops 0123456789abcdef0\n', `${FILE}, line 1: expected "NAME: TOKEN"`);
  refused('# x\nops: short\n', `${FILE}, line 2: the token of ops must be at least 16 characters without blanks`);
  refused('o p: 0123456789abcdef0\n', `${FILE}, line 1: the client name must be letters, digits, "_", ".", "@", "+", "-"`);
  refused('a: 0123456789abcdef0\na: 0123456789abcdef1\n', `${FILE}, line 2: client a is named twice`);
  refused('a: 0123456789abcdef0\nb: 0123456789abcdef0\n', `${FILE}, line 2: b has the token of another client`);
});

test('sessions: signed for a client, end at their expiry and when the token changes', () => {
  let book = TokenBook.parse('ops: ops-0123456789abcdef\n', FILE);
  const auth = new Authenticator(() => book);
  const now = new Date('2026-01-01T00:00:00Z');
  const session = auth.newSession('ops', now);
  assert.equal(auth.session(session, now), 'ops');
  assert.equal(auth.session(session, new Date(now.getTime() + 13 * 3600_000)), null, 'expired after 12 h');
  assert.equal(auth.session(session.replace(/.$/, (c) => (c === '0' ? '1' : '0')), now), null, 'tampered');
  assert.equal(auth.session(session.replace(/^ops/, 'ci'), now), null);
  assert.equal(auth.bearer('Bearer ops-0123456789abcdef'), 'ops');
  assert.equal(auth.bearer('Basic ops-0123456789abcdef'), null);
  assert.equal(auth.bearer(undefined), null);
  book = TokenBook.parse('ops: ops-fedcba9876543210\n', FILE);
  assert.equal(auth.session(session, now), null, 'a new token ends the old sessions');
});
