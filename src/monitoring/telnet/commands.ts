import type { SchedulerView } from '../../scheduler/status-model.js';
import { compileJobFilter, JobFilterError } from './job-filter.js';
import type { JobMatcher } from './job-matcher.js';
import { renderJobsTable } from './jobs-table.js';
import { renderStatusReport } from './status-report.js';

export interface CommandOutcome {
  /** Text to show (lines separated by `\n`, no final newline); empty for none. */
  output: string;
  /** The session ends after the output. */
  close: boolean;
}

export const HELP = [
  'Commands:',
  '  jobs [REGEX]  list the jobs, or those whose name matches the extended regular expression',
  "  status        show the scheduler's workers, queue, running backups and scrubs, uptime and configuration,",
  '                and when each job\'s revisions were last verified',
  '  run JOB       queue a backup of JOB now, with its next tags',
  '  help          show this list',
  '  quit          close this session (also Ctrl-D)',
].join('\n');

export interface CommandContext {
  view: SchedulerView;
  now: Date;
  /** Where `jobs REGEX` matches, off the scheduler's thread. */
  matcher: JobMatcher;
}

/** Interprets one line typed into the telnet shell. Never throws for what a user can type. */
export async function runCommand(line: string, { view, now, matcher }: CommandContext): Promise<CommandOutcome> {
  const text = line.trim();
  const [command = '', ...args] = text.split(/\s+/);
  const rest = text.slice(command.length).trim();
  const say = (output: string): CommandOutcome => ({ output, close: false });
  switch (command) {
    case '':
      return say('');
    case 'jobs': {
      let jobs = view.jobs();
      if (rest.length > 0) {
        let filter: RegExp;
        try {
          filter = compileJobFilter(rest);
        } catch (err) {
          if (err instanceof JobFilterError) return say(err.message);
          throw err;
        }
        const result = await matcher.match(filter.source, jobs.map((job) => job.name));
        if (!result.ok) return say(`jobs ${rest}: ${result.reason}`);
        jobs = jobs.filter((_, i) => result.matches[i]);
      }
      return say(renderJobsTable(jobs, now));
    }
    case 'status':
      if (args.length > 0) return say('usage: status');
      return say(renderStatusReport(view.status(), view.jobs(), now));
    case 'run':
      if (args.length !== 1) return say('usage: run JOB');
      return say(queueBackup(view, args[0]));
    case 'help':
    case '?':
      return say(HELP);
    case 'quit':
    case 'exit':
      return { output: '', close: true };
    default:
      return say(`unknown command "${command}"; type "help" for the list of commands`);
  }
}

function queueBackup(view: SchedulerView, name: string): string {
  // The tags the backup runs with are the job's next tags before it is queued.
  const tags = view.jobs().find((job) => job.name === name)?.nextTags ?? [];
  const outcome = view.runJob(name);
  if (!outcome.ok) return `cannot run ${name}: ${outcome.reason}`;
  return `${name}: backup queued${tags.length > 0 ? ` with tags ${tags.join(',')}` : ''}`;
}
