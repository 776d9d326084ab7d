import { createHash } from 'node:crypto';

/**
 * Where in its schedule a job runs: a fixed offset in [0, longest interval)
 * derived from the job's name alone. A hash spreads many jobs uniformly over
 * the longest interval (and so over every shorter one), and the same name
 * always gets the same offset, so a restart does not move any job.
 */
export function jobSpreadSeconds(jobName: string, longestIntervalSeconds: number): number {
  const digest = createHash('sha256').update(jobName, 'utf8').digest();
  // 48 bits keep the product exact in a double for intervals up to years.
  const fraction = digest.readUIntBE(0, 6) / 2 ** 48;
  return Math.floor(fraction * longestIntervalSeconds);
}
