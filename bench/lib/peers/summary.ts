/**
 * The figures of the peers benchmark: what was measured per tool, step and
 * repetition, reduced to medians, and backy's comparisons against the
 * faster (or smaller) of restic and borg.
 */
import { median } from '../measure.js';
import type { ToolName } from './tools.js';

export const TOOLS: readonly ToolName[] = ['backy-btrfs', 'backy-ext4', 'restic', 'borg'];
export const BACKY: readonly ToolName[] = ['backy-btrfs', 'backy-ext4'];
export const PEERS: readonly ToolName[] = ['restic', 'borg'];
export const STEPS = ['full', 'incremental', 'restore'] as const;
export type Step = (typeof STEPS)[number];

export interface Sample {
  wallSeconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  /** Growth of the filesystem's used bytes during the step (backups only). */
  growthBytes?: number;
  /** Growth of the repository directory's allocated bytes (`du`), the cross-check. */
  directoryGrowthBytes?: number;
  /** The 1-minute load average when the step started. */
  load: number;
  /** The fraction of the step's first input in the page cache when it started. */
  cached: number;
}

export type Samples = Record<ToolName, Record<Step, Sample[]>>;

export function emptySamples(): Samples {
  const samples = {} as Samples;
  for (const tool of TOOLS) samples[tool] = { full: [], incremental: [], restore: [] };
  return samples;
}

export interface Figures {
  wall: number;
  walls: number[];
  cpu: number;
  cpus: number[];
  /** The highest of the repetitions: peak memory. */
  rss: number;
  growth: number | undefined;
  directoryGrowth: number | undefined;
  /** The lowest of the repetitions. */
  cached: number;
}

export function figures(samples: Sample[]): Figures {
  const defined = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined);
  const growth = defined(samples.map((s) => s.growthBytes));
  const directoryGrowth = defined(samples.map((s) => s.directoryGrowthBytes));
  return {
    wall: median(samples.map((s) => s.wallSeconds)),
    walls: samples.map((s) => s.wallSeconds),
    cpu: median(samples.map((s) => s.cpuSeconds)),
    cpus: samples.map((s) => s.cpuSeconds),
    rss: Math.max(...samples.map((s) => s.maxRssBytes)),
    growth: growth.length ? median(growth) : undefined,
    directoryGrowth: directoryGrowth.length ? median(directoryGrowth) : undefined,
    cached: Math.min(...samples.map((s) => s.cached)),
  };
}

/** A figure where smaller is better, for one backy variant against both peers. */
export interface Comparison {
  metric: Metric;
  backy: number;
  peers: Record<'restic' | 'borg', number>;
  /** The peer with the smaller figure. */
  best: 'restic' | 'borg';
  /** For times: whether backy's runs and the best peer's runs overlap (a difference within the noise). */
  overlap: boolean;
}

export type Metric =
  | 'full backup time'
  | 'incremental backup time'
  | 'restore time'
  | 'full backup CPU'
  | 'incremental backup CPU'
  | 'restore CPU'
  | 'peak memory'
  | 'growth after full backup'
  | 'growth after incremental backup';

export function compare(all: Record<ToolName, Record<Step, Figures>>, variant: ToolName): Comparison[] {
  const runs = (tool: ToolName, metric: Metric): number[] => {
    const f = all[tool];
    switch (metric) {
      case 'full backup time': return f.full.walls;
      case 'incremental backup time': return f.incremental.walls;
      case 'restore time': return f.restore.walls;
      case 'full backup CPU': return f.full.cpus;
      case 'incremental backup CPU': return f.incremental.cpus;
      case 'restore CPU': return f.restore.cpus;
      default: return [];
    }
  };
  const pick = (tool: ToolName, metric: Metric): number => {
    const f = all[tool];
    switch (metric) {
      case 'full backup time': return f.full.wall;
      case 'incremental backup time': return f.incremental.wall;
      case 'restore time': return f.restore.wall;
      case 'full backup CPU': return f.full.cpu;
      case 'incremental backup CPU': return f.incremental.cpu;
      case 'restore CPU': return f.restore.cpu;
      case 'peak memory': return Math.max(f.full.rss, f.incremental.rss, f.restore.rss);
      case 'growth after full backup': return f.full.growth ?? NaN;
      case 'growth after incremental backup': return f.incremental.growth ?? NaN;
    }
  };
  const metrics: Metric[] = [
    'full backup time', 'incremental backup time', 'restore time',
    'full backup CPU', 'incremental backup CPU', 'restore CPU',
    'peak memory', 'growth after full backup', 'growth after incremental backup',
  ];
  return metrics.map((metric) => {
    const peers = { restic: pick('restic', metric), borg: pick('borg', metric) };
    const best = peers.restic <= peers.borg ? 'restic' : 'borg';
    const mine = runs(variant, metric);
    const theirs = runs(best, metric);
    const overlap = mine.length > 0 && Math.min(...mine) <= Math.max(...theirs) && Math.min(...theirs) <= Math.max(...mine);
    return { metric, backy: pick(variant, metric), peers, best, overlap };
  });
}
