/**
 * The thread `jobs REGEX` matches in (job-matcher.ts): it may be stopped
 * mid-match when an expression backtracks too long.
 */
import { parentPort } from 'node:worker_threads';
import { READY } from './job-matcher.js';

export interface MatchRequest {
  source: string;
  names: string[];
}

parentPort?.on('message', ({ source, names }: MatchRequest) => {
  const pattern = new RegExp(source);
  parentPort!.postMessage(names.map((name) => pattern.test(name)));
});
parentPort?.postMessage(READY);
