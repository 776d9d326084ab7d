import { Counter, Gauge, Registry } from 'prom-client';
import { slaStatus } from '../../schedule/sla.js';
import type { SchedulerView } from '../../scheduler/status-model.js';

/**
 * `GET /metrics`: Prometheus's text exposition format, made by prom-client
 * from the scheduler's state at the moment of the scrape (every gauge
 * collects from the view, so nothing is kept twice). Per job: the last
 * successful backup's time, duration and bytes written, revisions and
 * their estimated size, SLA, consecutive failures, distrusted revisions,
 * when a revision last proved its bytes and since when all have; for the
 * scheduler: workers (backups and scrubs), queue, skipped jobs, backups
 * finished by outcome.
 */
export function schedulerMetrics(view: SchedulerView, now: () => Date): Registry {
  const registry = new Registry();
  const perJob = (name: string, help: string, value: (job: ReturnType<SchedulerView['jobs']>[number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['job'],
      registers: [registry],
      collect() {
        this.reset();
        for (const job of view.jobs()) {
          const v = value(job);
          if (v !== null) this.set({ job: job.name }, v);
        }
      },
    });
  perJob('backy_job_last_success_timestamp_seconds', 'When the newest complete revision of the job was made (Unix time).', (j) =>
    j.lastBackup ? j.lastBackup.getTime() / 1000 : null,
  );
  perJob('backy_job_last_backup_duration_seconds', 'How long the newest complete backup of the job took.', (j) => j.lastDuration);
  perJob('backy_job_last_backup_written_bytes', 'Bytes the newest complete backup of the job wrote.', (j) => j.lastBytesWritten);
  perJob('backy_job_revisions', 'Revisions in the job directory.', (j) => j.revisions);
  perJob('backy_job_revisions_estimated_bytes', "The revisions' data, estimated as backy status does (sum of bytes written).", (j) => j.estimatedBytes);
  perJob('backy_job_within_sla', '1 while the newest backup is younger than 1.5 times the shortest interval, else 0.', (j) =>
    slaStatus(j, now()).ok ? 1 : 0,
  );
  perJob('backy_job_consecutive_failures', 'Failed backups of the job since its last success.', (j) => j.failures);
  perJob('backy_job_distrusted_revisions', 'Revisions whose data failed a check (never used as parents).', (j) => j.distrustedRevisions);
  perJob('backy_job_last_verified_timestamp_seconds', 'When a revision of the job last proved its bytes against its hashes (Unix time).', (j) =>
    j.lastVerified ? j.lastVerified.getTime() / 1000 : null,
  );
  perJob(
    'backy_job_verified_since_timestamp_seconds',
    'Every trusted revision of the job proved its bytes since then (Unix time); scrubbing keeps it within scrub-interval.',
    (j) => (j.verifiedSince ? j.verifiedSince.getTime() / 1000 : null),
  );

  const scheduler = (name: string, help: string, value: () => number) =>
    new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
  const busy = () => {
    const status = view.status();
    return status.running.length + status.scrub.running.length;
  };
  scheduler('backy_workers_busy', 'Workers busy now: backups and scrubs.', busy);
  scheduler('backy_workers_idle', 'Workers free (worker-limit minus busy).', () => Math.max(0, view.status().workerLimit - busy()));
  scheduler('backy_scrubs_running', 'Scrubs (verifications of stored revisions) running now; a backup stops one when it needs the worker.', () => view.status().scrub.running.length);
  scheduler('backy_backups_queued', 'Backups waiting for a worker.', () => view.status().queued.length);
  scheduler('backy_jobs_skipped', 'Configured jobs the scheduler does not run (a foreign directory in the way).', () => view.status().skipped.length);
  new Counter({
    name: 'backy_backups_finished_total',
    help: 'Backups ended since the scheduler started, by outcome (succeeded, failed, interrupted by shutdown).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, count] of Object.entries(view.status().finished)) this.inc({ outcome }, count);
    },
  });
  return registry;
}
