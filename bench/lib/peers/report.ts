/**
 * The peers benchmark's markdown: one row per tool and step, backy's
 * factors against restic and borg, the issue's targets with pass/fail, and
 * a sentence on each figure where backy is behind.
 */
import { cpus } from 'node:os';
import { median } from '../measure.js';
import { seconds } from '../report.js';
import { BACKY, compare, figures, STEPS, TOOLS, type Comparison, type Figures, type Metric, type Samples, type Step } from './summary.js';
import type { ToolName } from './tools.js';

export interface RunInfo {
  sizeBytes: number;
  repetitions: number;
  changedBytes: number;
  /** `uptime` at the start and the end of the run. */
  uptimeBefore: string;
  uptimeAfter: string;
  versions: string;
  totalSeconds: number;
}

const STEP_TITLE: Record<Step, string> = { full: 'full backup', incremental: 'incremental backup', restore: 'restore' };

export function bytes(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '';
  const sign = value < 0 ? '−' : '';
  const abs = Math.abs(value);
  if (abs >= 1024 ** 3) return `${sign}${(abs / 1024 **3).toFixed(2)} GiB`;
  return `${sign}${(abs / 1024 ** 2).toFixed(1)} MiB`;
}

/** peer ÷ backy: above 1 backy is ahead (faster, less memory, less space). */
function factor(backy: number, peer: number): string {
  return `${(peer / backy).toFixed(2)}×`;
}

function formatMetric(metric: Metric, value: number): string {
  if (metric.endsWith('time') || metric.endsWith('CPU')) return seconds(value);
  return bytes(value);
}

function measurementsTable(all: Record<ToolName, Record<Step, Figures>>): string {
  const lines = [
    '| tool | step | wall (median) | wall, each run | CPU (median) | peak RSS | used bytes growth (df) | repository `du` growth | input cached |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const tool of TOOLS) {
    for (const step of STEPS) {
      const f = all[tool][step];
      lines.push(
        `| ${tool} | ${STEP_TITLE[step]} | ${seconds(f.wall)} | ${f.walls.map((w) => w.toFixed(2)).join(', ')} | ` +
          `${seconds(f.cpu)} | ${bytes(f.rss)} | ${bytes(f.growth)} | ${bytes(f.directoryGrowth)} | ${(f.cached * 100).toFixed(0)}% |`,
      );
    }
  }
  return lines.join('\n');
}

function factorsTable(comparisons: Record<string, Comparison[]>): string {
  const lines = [
    '| figure | backy-btrfs vs restic | backy-btrfs vs borg | backy-ext4 vs restic | backy-ext4 vs borg |',
    '|---|---:|---:|---:|---:|',
  ];
  const metrics = comparisons['backy-btrfs']!.map((c) => c.metric);
  metrics.forEach((metric, i) => {
    const cells = BACKY.flatMap((variant) => {
      const c = comparisons[variant]![i]!;
      return [factor(c.backy, c.peers.restic), factor(c.backy, c.peers.borg)];
    });
    lines.push(`| ${metric} | ${cells.join(' | ')} |`);
  });
  return lines.join('\n');
}

interface Target {
  label: string;
  metric: Metric;
  /** How many times smaller than the better peer's figure backy's must be (0.5: at most twice as large). */
  atLeast: number;
  only?: ToolName;
}

const TARGETS: Target[] = [
  { label: 'incremental backup ≥ 2× faster than the faster peer', metric: 'incremental backup time', atLeast: 2 },
  { label: 'restore ≥ 2× faster than the faster peer', metric: 'restore time', atLeast: 2 },
  { label: 'full backup no slower than the faster peer', metric: 'full backup time', atLeast: 1 },
  { label: 'incremental growth ≤ 2× the smaller peer’s (btrfs)', metric: 'growth after incremental backup', atLeast: 0.5, only: 'backy-btrfs' },
];

function targetsTable(comparisons: Record<string, Comparison[]>): { table: string; missed: Set<string> } {
  const lines = ['| target | backy-btrfs | ok | backy-ext4 | ok |', '|---|---:|---|---:|---|'];
  const missed = new Set<string>();
  for (const target of TARGETS) {
    const cells = BACKY.flatMap((variant) => {
      const c = comparisons[variant]!.find((x) => x.metric === target.metric)!;
      const best = c.peers[c.best];
      const text = `${formatMetric(c.metric, c.backy)} vs ${formatMetric(c.metric, best)} (${c.best}): ${factor(c.backy, best)}`;
      if (target.only && target.only !== variant) return [text, 'no target'];
      const ok = best / c.backy >= target.atLeast;
      if (!ok) missed.add(`${variant} ${c.metric}`);
      return [text, ok ? 'yes' : '**NO**'];
    });
    lines.push(`| ${target.label} | ${cells.join(' | ')} |`);
  }
  return { table: lines.join('\n'), missed };
}

/** Why backy is behind, per figure and filesystem: one sentence each, from the measurements in this run's investigation. */
export type Explain = (variant: ToolName, metric: Metric, c: Comparison) => string;

/** Every figure where backy is behind the better peer or misses its target, with the reason. */
function lossesList(comparisons: Record<string, Comparison[]>, missed: Set<string>, explain: Explain): string {
  const lines: string[] = [];
  for (const variant of BACKY) {
    for (const c of comparisons[variant]!) {
      const best = c.peers[c.best];
      const target = missed.has(`${variant} ${c.metric}`);
      if (!(c.backy > best) && !target) continue;
      const verdict = c.backy > best ? 'behind' : `ahead (${factor(c.backy, best)}) but short of the target`;
      lines.push(
        `- **${variant}, ${c.metric}** — ${verdict}: ${formatMetric(c.metric, c.backy)} vs ${formatMetric(c.metric, best)} (${c.best}). ` +
          explain(variant, c.metric, c),
      );
    }
  }
  return lines.length ? lines.join('\n') : 'Nowhere in this run.';
}

export function peersReport(samples: Samples, info: RunInfo, explain: Explain, setup: string): string {
  const all = {} as Record<ToolName, Record<Step, Figures>>;
  for (const tool of TOOLS) {
    all[tool] = { full: figures(samples[tool].full), incremental: figures(samples[tool].incremental), restore: figures(samples[tool].restore) };
  }
  const comparisons: Record<string, Comparison[]> = {};
  for (const variant of BACKY) comparisons[variant] = compare(all, variant);
  const targets = targetsTable(comparisons);
  const loads = TOOLS.flatMap((tool) => STEPS.flatMap((step) => samples[tool][step].map((s) => s.load))).sort((a, b) => a - b);
  const gib = Number((info.sizeBytes / 1024 ** 3).toFixed(2));
  return [
    `## backy against restic and borg (${gib} GiB image, ${bytes(info.changedBytes)} changed, median of ${info.repetitions})`,
    '',
    setup,
    '',
    `Versions: ${info.versions}. Run took ${(info.totalSeconds / 60).toFixed(1)} min. ` +
      `Load at start: \`${info.uptimeBefore}\`; at the end: \`${info.uptimeAfter}\`; ` +
      `1-minute load average when a step started: ${loads[0]?.toFixed(2)} to ${loads.at(-1)?.toFixed(2)}, median ${median(loads).toFixed(2)} ` +
      `(${cpus().length} cores; other work was running, so figures are noisy).`,
    '',
    '### Measurements',
    '',
    measurementsTable(all),
    '',
    '### backy against each peer',
    '',
    'Factor = peer ÷ backy: above 1 backy is ahead (faster, less CPU, less memory, less space), below 1 it is behind.',
    '',
    factorsTable(comparisons),
    '',
    `### Targets: ${targets.missed.size === 0 ? 'all met' : `**${targets.missed.size} of ${TARGETS.reduce((n, t) => n + (t.only ? 1 : BACKY.length), 0)} missed**`}`,
    '',
    targets.table,
    '',
    '### Where backy is behind or misses a target, and why',
    '',
    lossesList(comparisons, targets.missed, explain),
  ].join('\n');
}
