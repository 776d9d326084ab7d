/** JobStatus records for tests of what shows jobs (check, telnet shell): defaults for all but the name. */
import type { JobStatus } from '../../src/scheduler/status-model.js';

export function jobStatus(fields: Partial<JobStatus> & { name: string }): JobStatus {
  return {
    schedule: 'default',
    slaIntervalSeconds: 86400,
    firstSeen: new Date('2015-11-01T00:00:00Z'),
    state: 'waiting',
    retryAt: null,
    failures: 0,
    lastBackup: null,
    lastTags: [],
    lastDuration: null,
    lastBytesWritten: null,
    nextBackup: null,
    nextTags: [],
    revisions: 0,
    estimatedBytes: 0,
    distrustedRevisions: 0,
    lastVerified: null,
    verifiedSince: null,
    ...fields,
  };
}
