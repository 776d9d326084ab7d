/**
 * The four contenders of the peers benchmark behind one interface: backy
 * with its job directory on btrfs and on ext4, restic and borg with their
 * repositories on ext4. Each works on one source file (whose content the
 * scenario swaps between the full and the changed image) and a repository
 * directory of its own on a loop filesystem that holds nothing else while
 * it runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BACKY_MAIN } from '../../../test/helpers/cli.js';
import type { LoopFilesystem } from '../../../test/helpers/loop-fs.js';
import { measure, type Measurement } from '../measure.js';

export type ToolName = 'backy-btrfs' | 'backy-ext4' | 'backy-chunked' | 'restic' | 'borg';
export type BackupStep = 'full' | 'incremental';

export interface PeerTool {
  readonly name: ToolName;
  /** The loop filesystem the repository lives on. */
  readonly fs: LoopFilesystem;
  /** The repository (job directory) whose growth is measured. */
  readonly repository: string;
  /** Creates an empty repository; not timed. */
  init(): void;
  backup(step: BackupStep): Promise<Measurement>;
  /** Restores the newest backup into the empty directory `target`; returns the restored image's path. */
  restore(target: string): Promise<{ measurement: Measurement; file: string }>;
  /** Besides the source, what a backup reads first (a parent image, caches), warmed beforehand like the source. */
  backupInputs(step: BackupStep): string[];
  /** The files a restore reads, to be read once beforehand so every tool starts from a warm page cache. */
  restoreInputs(): string[];
  /** Deletes the repository and whatever else the tool keeps (caches). */
  remove(): void;
}

/**
 * backy: `init file SRC`, `backup TAG`, `restore -r 0 TARGET` on a job
 * directory; `backy-chunked` with `init --store chunked` (its own pool in
 * the job directory), the others with the cow store.
 */
export function backyTool(name: 'backy-btrfs' | 'backy-ext4' | 'backy-chunked', fs: LoopFilesystem, source: string): PeerTool {
  const job = join(fs.path, 'backy-job');
  const store = name === 'backy-chunked' ? 'chunked' : 'cow';
  return {
    name,
    fs,
    repository: job,
    init: () => execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'init', '--store', store, 'file', source]),
    backup: (step) => measure(process.execPath, [BACKY_MAIN, '-b', job, 'backup', step]),
    async restore(target) {
      const file = join(target, basename(source));
      return { measurement: await measure(process.execPath, [BACKY_MAIN, '-b', job, 'restore', '-r', '0', file]), file };
    },
    // The parent image, which an incremental backup on btrfs compares the
    // source with; on ext4 the new revision is written whole and the parent
    // is not read.
    backupInputs: (step) => (step === 'incremental' && fs.type === 'btrfs' && store === 'cow' ? [join(job, 'last')] : []),
    // A chunked revision is its index and the pool's chunks: the whole job directory.
    restoreInputs: () => (store === 'chunked' ? [job] : [join(job, 'last')]),
    remove: () => rmSync(job, { recursive: true, force: true }),
  };
}

/**
 * restic with a local repository and its cache in a directory beside it,
 * on the same filesystem (not counted as repository growth). Backs up the
 * file by its name from its directory.
 */
export function resticTool(fs: LoopFilesystem, source: string): PeerTool {
  const repository = join(fs.path, 'restic-repo');
  const cache = join(fs.path, 'restic-cache');
  const env = { ...process.env, RESTIC_PASSWORD: 'backy-bench', RESTIC_REPOSITORY: repository, RESTIC_CACHE_DIR: cache };
  const restic = (args: string[], cwd?: string) => measure('restic', args, { env, cwd });
  return {
    name: 'restic',
    fs,
    repository,
    init: () => execFileSync('restic', ['init', '--quiet'], { env }),
    backup: () => restic(['backup', '--quiet', basename(source)], dirname(source)),
    async restore(target) {
      const measurement = await restic(['restore', 'latest', '--target', target]);
      return { measurement, file: findFile(target, basename(source)) };
    },
    // Its cache holds the index and the previous snapshot's tree.
    backupInputs: () => [cache],
    restoreInputs: () => [repository],
    remove: () => {
      rmSync(repository, { recursive: true, force: true });
      rmSync(cache, { recursive: true, force: true });
    },
  };
}

/**
 * borg without encryption, its default compression (lz4), its cache and
 * security directories (BORG_BASE_DIR) beside the repository. Extracts with
 * `--sparse` so that the image's holes stay holes, as backy's restore does.
 */
export function borgTool(fs: LoopFilesystem, source: string): PeerTool {
  const repository = join(fs.path, 'borg-repo');
  const base = join(fs.path, 'borg-base');
  const env = {
    ...process.env,
    BORG_BASE_DIR: base,
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
  };
  return {
    name: 'borg',
    fs,
    repository,
    init: () => {
      mkdirSync(base, { recursive: true });
      execFileSync('borg', ['init', '--encryption=none', repository], { env });
    },
    backup: (step) => measure('borg', ['create', `${repository}::${step}`, basename(source)], { env, cwd: dirname(source) }),
    async restore(target) {
      const measurement = await measure('borg', ['extract', '--sparse', `${repository}::incremental`], { env, cwd: target });
      return { measurement, file: findFile(target, basename(source)) };
    },
    // Its chunk index and files cache.
    backupInputs: () => [base],
    restoreInputs: () => [repository],
    remove: () => {
      rmSync(repository, { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Where a tool put the restored file (restic recreates the source's directories under the target). */
function findFile(directory: string, name: string): string {
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name === name) return join(entry.parentPath, entry.name);
  }
  throw new Error(`no ${name} restored under ${directory}`);
}
