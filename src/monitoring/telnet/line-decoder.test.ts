import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TelnetLineDecoder, type TelnetEvent } from './line-decoder.js';

const IAC = 255;

function feed(decoder: TelnetLineDecoder, ...chunks: Array<string | number[]>): TelnetEvent[] {
  return chunks.flatMap((chunk) => decoder.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk)));
}

const line = (text: string): TelnetEvent => ({ type: 'line', text });
const reply = (...bytes: number[]): TelnetEvent => ({ type: 'reply', bytes: Buffer.from(bytes) });

test('CRLF, CR NUL, bare CR and bare LF end a line; empty lines are lines', () => {
  const d = new TelnetLineDecoder();
  assert.deepEqual(feed(d, 'jobs\r\nstatus\r\0help\rquit\n\n'), [line('jobs'), line('status'), line('help'), line('quit'), line('')]);
});

test('lines and CRLF pairs may be split across chunks', () => {
  const d = new TelnetLineDecoder();
  assert.deepEqual(feed(d, 'jo', 'bs test', '\r', '\nstat', 'us\r'), [line('jobs test'), line('status')]);
  assert.deepEqual(feed(d, '\n', 'x\n'), [line('x')]);
});

test('UTF-8 is decoded, also when a character is split across chunks', () => {
  const d = new TelnetLineDecoder();
  const bytes = [...Buffer.from('jobs ä')];
  assert.deepEqual(feed(d, bytes.slice(0, 6), [...bytes.slice(6), 13, 10]), [line('jobs ä')]);
});

test('option negotiation is refused: WILL gets DONT, DO gets WONT, WONT/DONT get nothing', () => {
  const d = new TelnetLineDecoder();
  const events = feed(d, [IAC, 251, 31, IAC, 253, 1, IAC, 252, 3, IAC, 254, 5], 'jobs\r\n');
  assert.deepEqual(events, [reply(IAC, 254, 31), reply(IAC, 252, 1), line('jobs')]);
});

test('negotiation split across chunks and in the middle of a line is stripped', () => {
  const d = new TelnetLineDecoder();
  assert.deepEqual(feed(d, 'jo', [IAC], [253], [24, ...Buffer.from('bs\r\n')]), [reply(IAC, 252, 24), line('jobs')]);
});

test('subnegotiations are skipped up to IAC SE, including escaped IAC inside', () => {
  const d = new TelnetLineDecoder();
  const sb = [IAC, 250, 24, 0, ...Buffer.from('XTERM'), IAC, IAC, 7, IAC, 240];
  assert.deepEqual(feed(d, 'st', sb, 'atus\n'), [line('status')]);
});

test('IAC IAC is a data byte; NOP, DM, GA are ignored', () => {
  const d = new TelnetLineDecoder();
  const events = feed(d, [0x61, IAC, 241, IAC, 242, IAC, 249, 0x62, 10]);
  assert.deepEqual(events, [line('ab')]);
  const escaped = feed(d, [IAC, IAC, 10]);
  assert.equal(escaped[0].type, 'line');
});

test('Ctrl-C (0x03 or IAC IP) discards the current line', () => {
  const d = new TelnetLineDecoder();
  assert.deepEqual(feed(d, 'jobs te', [3], 'status\n'), [{ type: 'interrupt' }, line('status')]);
  assert.deepEqual(feed(d, 'run x', [IAC, 244, IAC, 253, 6], 'help\r\n'), [{ type: 'interrupt' }, reply(IAC, 252, 6), line('help')]);
});

test('Ctrl-D ends the input on an empty line only', () => {
  const d = new TelnetLineDecoder();
  assert.deepEqual(feed(d, 'abc', [4], '\n'), [line('abc')]);
  assert.deepEqual(feed(d, [4]), [{ type: 'end' }]);
  assert.deepEqual(feed(d, [IAC, 236]), [{ type: 'end' }]);
});

test('backspace, DEL, IAC EC and IAC EL edit the line; other control characters are dropped', () => {
  const d = new TelnetLineDecoder();
  assert.deepEqual(feed(d, 'jobx', [8], 's', [0x7f, 0x7f, 0x7f, 0x7f, 0x7f], 'status\n'), [line('status')]);
  assert.deepEqual(feed(d, 'jobsä', [IAC, 247], '\n'), [line('jobs')]);
  assert.deepEqual(feed(d, 'garbage', [IAC, 248], 'help', [7, 27], '\n'), [line('help')]);
});

test('a line over the limit is reported once when it ends; the next line is fine', () => {
  const d = new TelnetLineDecoder(8);
  assert.deepEqual(feed(d, '12345678\n'), [line('12345678')]);
  assert.deepEqual(feed(d, '123456789', 'x'.repeat(100_000), '\r\nhelp\r\n'), [{ type: 'too-long', limit: 8 }, line('help')]);
  assert.deepEqual(feed(d, '123456789', [3], 'quit\n'), [{ type: 'interrupt' }, line('quit')]);
});

test('are-you-there gets a visible answer', () => {
  const d = new TelnetLineDecoder();
  assert.deepEqual(feed(d, [IAC, 246]), [{ type: 'reply', bytes: Buffer.from('\r\n[yes]\r\n') }]);
});
