/**
 * Why backy is behind a peer (or short of a target) on a figure: one
 * sentence per figure and filesystem, from tracing backy on this machine
 * (strace timelines of its phases, `perf record` of its CPU time; see the
 * notes beside each sentence). The sentences name mechanisms, not numbers of
 * one run, so they hold when the benchmark is run again.
 */
import type { Comparison, Metric } from './summary.js';
import type { Explain } from './report.js';
import type { ToolName } from './tools.js';

type Fs = 'btrfs' | 'ext4';

// strace -tt -T of `backy backup` (4 GiB image, 2.7 GiB of data): 7.8 s
// writing into the page cache (SHA-256 of every block on the hash workers
// beside it), then a 5.1 s fdatasync with the verification beside it.
const FULL_BTRFS =
  'A full backup writes the image\'s data uncompressed (about twice what restic and borg store after compression) ' +
  'through the page cache, hashes every block (SHA-256, for its hash record), flushes it with fdatasync and verifies it ' +
  'against the source read once more, a check neither peer makes; its time follows the disk\'s write speed, which moved ' +
  'from 7.9 to 9.5 s for `cp --sparse=always` plus `sync` of the same image between runs on this machine.';

// The same on ext4, where the image is written with O_DIRECT: the time is
// the disk's, about 1.1-1.8 GB/s writing here (dd, fio); verification
// re-reads the cached source and compares checksums, 0.4-0.5 s of 2.1-3.1 s.
const FULL_EXT4 =
  'A full backup writes the image\'s data uncompressed (about twice what restic and borg store after compression) with direct I/O, ' +
  'so its time is mostly the disk\'s write speed, and verifies it against the source read once more, a check neither peer makes.';

const INCREMENTAL_EXT4 =
  'ext4 cannot share blocks, so every revision is a complete sparse copy: an incremental backup writes all of the image\'s data again, ' +
  'while restic and borg only read and hash the image and store the changed chunks.';

const INCREMENTAL_BTRFS =
  'An incremental backup reads the image\'s data and its parent\'s to compare them block by block and then reads both again to verify: ' +
  'four passes over the data through the page cache (holes skipped), where restic and borg read the image once.';

// strace of `backy restore` onto the ext4 target: 8 MiB O_DIRECT writes.
const RESTORE =
  'A restore reads the revision\'s data (holes skipped) and writes it with direct I/O in 8 MiB pieces, ' +
  'so its time is mostly the disk\'s write speed';

const REASONS: Partial<Record<Metric, Partial<Record<Fs, string>>>> = {
  'full backup time': { btrfs: FULL_BTRFS, ext4: FULL_EXT4 },
  'full backup CPU': {
    btrfs: `${FULL_BTRFS} On btrfs the writes go through the page cache (btrfs turns direct writes into buffered ones) and pay for data checksums.`,
    ext4: FULL_EXT4,
  },
  'incremental backup time': { btrfs: INCREMENTAL_BTRFS, ext4: INCREMENTAL_EXT4 },
  'incremental backup CPU': { btrfs: INCREMENTAL_BTRFS, ext4: INCREMENTAL_EXT4 },
  'restore time': {
    btrfs: `${RESTORE}.`,
    ext4: `${RESTORE}.`,
  },
  'restore CPU': { btrfs: `${RESTORE}.`, ext4: `${RESTORE}.` },
  'peak memory': {
    btrfs: 'Node with backy\'s modules takes 58 MiB before reading any data (`backy --help`; `node -e 0` alone 40 MiB), and a backup holds up to eight 4 MiB buffers: three for the source and one for the parent\'s blocks while writing (the next chunk is read and the previous one written meanwhile), two each for the source and the image while verifying (reading ahead).',
  },
  'growth after full backup': {
    btrfs: 'backy stores the image as it is, only its holes left out, while restic (zstd) and borg (lz4) compress it: the image\'s text third nearly vanishes in their repositories; compression is kept off backy\'s hot path by design.',
  },
  'growth after incremental backup': {
    ext4: 'ext4 has no reflinks, so every revision is a full sparse copy of the image (all of its data each time); on btrfs or XFS a revision costs only the changed blocks.',
    btrfs: 'backy rewrites changed data in 64 KiB blocks, and the reflinked clone of a fragmented parent adds btrfs metadata (stored twice).',
  },
};
REASONS['peak memory']!.ext4 = REASONS['peak memory']!.btrfs;
REASONS['growth after full backup']!.ext4 = REASONS['growth after full backup']!.btrfs;

export const explainLoss: Explain = (variant: ToolName, metric: Metric, c: Comparison): string => {
  const fs: Fs = variant === 'backy-btrfs' ? 'btrfs' : 'ext4';
  const reason = REASONS[metric]?.[fs] ?? 'Not investigated: this figure was not behind when the benchmark was written.';
  return c.overlap ? `${reason} backy's runs and ${c.best}'s overlap, so part of the gap is this machine's noise.` : reason;
};
