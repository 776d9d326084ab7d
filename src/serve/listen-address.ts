import { isIP } from 'node:net';
import { BackyError } from '../util/errors.js';
import type { ListenAddress } from './nbd/server.js';

/** `ADDR:PORT` (`[::1]:10809` for IPv6); port 0 takes any free port. */
export function parseListenAddress(text: string, option: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !host || !isIP(host) || port > 65535) {
    throw new BackyError(`${option} ${JSON.stringify(text)}: expected ADDRESS:PORT with an IP address, e.g. 127.0.0.1:10809 or [::1]:10809`);
  }
  return { host, port };
}

/** Whether only this machine can reach the address. */
export function isLoopback(address: ListenAddress): boolean {
  if ('path' in address) return true;
  return address.host === '::1' || /^127\./.test(address.host);
}
