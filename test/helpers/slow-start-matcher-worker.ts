/** The job matcher's worker as it loads on a busy machine: half a second before it can take a request. */
import { setTimeout as sleep } from 'node:timers/promises';

await sleep(500);
await import('../../src/monitoring/telnet/job-matcher-worker.js');
