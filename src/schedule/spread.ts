import { createHash } from 'node:crypto';
import { PythonRandom } from './python-random.js';

/**
 * Where in its schedule a job runs: a fixed offset in [0, longest interval]
 * derived from the job's name alone, so the same name always gets the same
 * offset and a restart does not move any job.
 *
 * Computed exactly as backy 2.x does (`random.Random()` seeded with the MD5
 * of the name read as one big integer, then `randint(0, longest interval)`),
 * so that jobs keep their time of day when a server moves over.
 */
export function jobSpreadSeconds(jobName: string, longestIntervalSeconds: number): number {
  const digest = createHash('md5').update(jobName, 'utf8').digest('hex');
  return new PythonRandom(BigInt(`0x${digest}`)).randint(0, longestIntervalSeconds);
}
