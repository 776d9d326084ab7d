import { resolve } from 'node:path';
import { httpFrontEnd } from '../../monitoring/http/http-front-end.js';
import { telnetFrontEnd } from '../../monitoring/telnet-shell.js';
import { backyCommand, processSpawner } from '../../scheduler/backup-process.js';
import { loadConfig } from '../../scheduler/config-load.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { runUntilTerminated } from '../../scheduler/signals.js';
import { systemClock } from '../../util/clock.js';
import type { ActionContext } from '../context.js';

/** `backy scheduler`: runs in the foreground until SIGTERM (the init system daemonizes). */
export async function scheduler(context: ActionContext, configPath: string): Promise<number> {
  const path = resolve(configPath);
  const { config, warnings } = await loadConfig(path);
  for (const warning of warnings) context.logger.warn(warning);
  const daemon = new Scheduler({
    configPath: path,
    config,
    clock: systemClock,
    spawner: processSpawner,
    logger: context.logger,
    backyCommand: backyCommand(),
    frontEnds: [telnetFrontEnd, httpFrontEnd],
  });
  await runUntilTerminated(daemon, context.logger);
  return 0;
}
