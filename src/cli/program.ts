import { Command, Option } from 'commander';
import { SOURCE_TYPE_NAMES } from '../sources/source-type-names.js';
import { BackyError } from '../util/errors.js';
import { VERSION } from '../util/version.js';
import type { RestoreFlags } from './actions/restore.js';
import { createContext, type GlobalOptions } from './context.js';
import { dataFormat } from './render/structured.js';

// Kept for importers of the CLI module; the version lives in util/version.ts.
export { VERSION };

export const DEFAULT_CONFIG = '/etc/backy.conf';

/**
 * Wires the manual's synopsis to the actions. Each action is imported when
 * it runs, so `backy find` does not load the scheduler. The action's exit
 * status is handed back through `onExit`; nothing here exits the process.
 */
export function buildProgram(onExit: (code: number) => void): Command {
  const program = new Command('backy')
    .description('Backup and recovery for block devices (VM images, Ceph RBD volumes).')
    .version(VERSION, '--version', 'print the version and exit')
    .option('-l, --logfile <LOGFILE>', 'write logs to this file (safe to rotate by renaming)')
    .option('-v, --verbose', 'include diagnostic messages in the log')
    .option('-b, --backupdir <DIRECTORY>', 'the job directory (default: the current directory)')
    .option('-c, --config <CONFIG>', `scheduler configuration file (default: ${DEFAULT_CONFIG})`)
    .helpOption('-h, --help', 'print a usage summary (also after an action)')
    // Usage mistakes get one line like every other error, with where to look.
    .configureOutput({
      outputError: (message, write) => {
        const text = message.trim().replace(/^error: /, '').split('\n').join(' ');
        write(`backy: ${text}${text.includes('Did you mean') ? '' : ' (see "backy --help")'}\n`);
      },
    })
    .exitOverride();

  const run = (stdoutCarriesData: boolean, action: (context: ReturnType<typeof createContext>) => Promise<number>) => {
    return async () => {
      const context = createContext(program.opts<GlobalOptions>(), stdoutCarriesData);
      onExit(await action(context));
    };
  };

  program
    .command('init')
    .description('create a job directory and write its source configuration')
    .argument('<TYPE>', `source type: ${SOURCE_TYPE_NAMES.join(', ')}`)
    .argument('<SOURCE>', 'file: FILENAME; ceph-rbd: POOL/IMAGE; flyingcircus: POOL/IMAGE,VM[,CONSUL_ACL_TOKEN]')
    .option('--store <STORE>', 'how revisions are kept: cow (image files sharing blocks by reflink) or chunked (deduplicated, compressed chunks); default: cow where the directory supports reflinks, else chunked')
    .action((type: string, source: string, opts: { store?: string }) =>
      run(false, async (c) => (await import('./actions/init.js')).init(c, type, source, opts.store))(),
    );

  program
    .command('backup')
    .description('create a new revision of the job now, with the given tags')
    .argument('<TAGS>', 'comma-separated tags for retention, as one argument (e.g. "daily,weekly")')
    .action((tags: string) => run(false, async (c) => (await import('./actions/backup.js')).backup(c, tags))());

  program
    .command('status')
    .description('print a table of all revisions in the job directory')
    .addOption(new Option('--json', 'print the revisions as JSON, for scripts').conflicts('yaml'))
    .addOption(new Option('--yaml', 'print the revisions as YAML (what backup-completed-callback gets)'))
    .action((opts: { json?: boolean; yaml?: boolean }) =>
      run(true, async (c) => (await import('./actions/status.js')).status(c, dataFormat(opts)))(),
    );

  program
    .command('jobs')
    .description("print the scheduler's jobs as telnet 'jobs' shows them, from its status file")
    .option('-c, --config <CONFIG>', `configuration file (default: ${DEFAULT_CONFIG})`)
    .addOption(new Option('--json', 'as JSON, for scripts'))
    .action((opts: { config?: string; json?: boolean }) =>
      run(true, async (c) => (await import('./actions/jobs.js')).jobs(c, configPath(program, opts), opts.json ? 'json' : null))(),
    );

  program
    .command('find')
    .description("print the path of a revision's image (default: the last)")
    .addOption(revisionOption())
    .action((opts: { revision?: string }) =>
      run(true, async (c) => (await import('./actions/find.js')).find(c, opts.revision))(),
    );

  program
    .command('restore')
    .description('copy a revision (default: the last) to a file, a block device, - for stdout, or a new RBD image, checking every block')
    .addOption(revisionOption())
    .option('--force', 'write blocks that do not match their recorded hashes as they are (warns, exits 1)')
    .option('--rbd <POOL/IMAGE>', 'restore into a new RBD image (refused if it exists)')
    .option('--instant', "with --rbd: make the image usable at once (Ceph's import-only live migration from an HTTP source)")
    .option('--http-listen <ADDRESS:PORT>', 'with --instant: where the HTTP source listens (default: 127.0.0.1, any free port)')
    .argument('[TARGET]', 'file or block device to write, or - for stdout')
    .action((target: string | undefined, opts: RestoreFlags) =>
      run(target === '-', async (c) => (await import('./actions/restore.js')).restore(c, target, opts))(),
    );

  program
    .command('verify')
    .description("read revisions back and check every block against its recorded hash (default: the last)")
    .addOption(revisionOption())
    .option('--all', 'every complete revision of the job')
    .action((opts: { revision?: string; all?: boolean }) => {
      if (opts.all && opts.revision !== undefined) throw new BackyError('verify: give -r REVISION or --all, not both');
      return run(true, async (c) => (await import('./actions/verify.js')).verify(c, opts.revision, Boolean(opts.all)))();
    });

  program
    .command('serve')
    .description('export a revision (default: the last) over NBD until SIGTERM/SIGINT, checking every block read')
    .addOption(revisionOption())
    .option('--listen <ADDRESS:PORT>', 'TCP address to listen on (default: 127.0.0.1:10809; port 0: any free port)')
    .option('--socket <PATH>', 'listen on a Unix socket instead')
    .option('--writable', 'take writes into a throw-away overlay (deleted at exit); the revision never changes')
    .action((opts: { revision?: string; listen?: string; socket?: string; writable?: boolean }) =>
      // stdout carries the one line saying where it listens: logs go to stderr.
      run(true, async (c) => (await import('./actions/serve.js')).serve(c, opts))(),
    );

  program
    .command('mount')
    .description("mount a revision's filesystem read-only, without restoring it (needs nbdfuse, root)")
    .addOption(revisionOption())
    .option('--partition <N>', 'the partition of a partitioned disk to mount')
    .argument('<MOUNTPOINT>', 'an empty directory')
    .action((mountpoint: string, opts: { revision?: string; partition?: string }) =>
      run(false, async (c) => (await import('./actions/mount.js')).mount(c, opts.revision, mountpoint, opts.partition))(),
    );

  program
    .command('umount')
    .description('undo backy mount: unmount, and stop what served the revision')
    .argument('<MOUNTPOINT>', 'where backy mount mounted it')
    .action((mountpoint: string) => run(false, async (c) => (await import('./actions/mount.js')).umount(c, mountpoint))());

  program
    .command('gc')
    .description('delete the chunks no revision references any more: of the job\'s pool, or with -c of the scheduler\'s shared pool')
    .option('-c, --config <CONFIG>', 'collect the pool shared by the jobs of this scheduler configuration')
    .action((opts: { config?: string }) =>
      run(false, async (c) => (await import('./actions/gc.js')).gc(c, opts.config ?? program.opts<GlobalOptions>().config))(),
    );

  program
    .command('scheduler')
    .description('run all configured jobs on schedule (does not daemonize)')
    .option('-c, --config <CONFIG>', `configuration file (default: ${DEFAULT_CONFIG})`)
    .action((opts: { config?: string }) =>
      run(false, async (c) => (await import('./actions/scheduler.js')).scheduler(c, configPath(program, opts)))(),
    );

  program
    .command('check')
    .description('Nagios check: are all jobs backed up in time?')
    .option('-c, --config <CONFIG>', `configuration file (default: ${DEFAULT_CONFIG})`)
    .action((opts: { config?: string }) =>
      // stdout is the Nagios plugin output: logs go to stderr.
      run(true, async (c) => (await import('./actions/check.js')).check(c, configPath(program, opts)))(),
    );

  for (const command of program.commands) {
    command.helpOption('-h, --help', 'print usage for this action').exitOverride();
  }
  return program;
}

function revisionOption(): Option {
  return new Option('-r, --revision <REVISION>', 'number (0 = last), ID, unique ID prefix, last/latest, or tag');
}

function configPath(program: Command, opts: { config?: string }): string {
  return opts.config ?? program.opts<GlobalOptions>().config ?? DEFAULT_CONFIG;
}
