import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback, parseListenAddress } from './listen-address.js';

test('listen addresses: IPv4, bracketed IPv6, any port', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:10809', '--listen'), { host: '127.0.0.1', port: 10809 });
  assert.deepEqual(parseListenAddress('[::1]:0', '--listen'), { host: '::1', port: 0 });
  assert.deepEqual(parseListenAddress(' 0.0.0.0:80 ', '--listen'), { host: '0.0.0.0', port: 80 });
});

test('listen addresses: names, missing ports and ports out of range are refused in one line', () => {
  for (const bad of ['localhost:10809', '127.0.0.1', '127.0.0.1:65536', '::1:10809', '[::1]', '127.0.0.1:-1', ':10809']) {
    assert.throws(() => parseListenAddress(bad, '--listen'), /--listen .*expected ADDRESS:PORT/, bad);
  }
});

test('loopback addresses are told from others', () => {
  assert.equal(isLoopback({ host: '127.0.0.1', port: 1 }), true);
  assert.equal(isLoopback({ host: '::1', port: 1 }), true);
  assert.equal(isLoopback({ host: '0.0.0.0', port: 1 }), false);
  assert.equal(isLoopback({ path: '/run/x.sock' }), true);
});
