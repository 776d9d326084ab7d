import { gcJobPool, gcSharedPool } from '../../job/gc-job.js';
import { loadConfig } from '../../scheduler/config-load.js';
import { formatBytes } from '../../util/units.js';
import type { ActionContext } from '../context.js';

/** `backy gc` on the job directory (`-b`), or with `-c CONFIG` on the pool its jobs share. */
export async function gc(context: ActionContext, configPath: string | undefined): Promise<number> {
  const outcome = configPath
    ? await gcSharedPool((await loadConfig(configPath)).config.baseDir, context.logger)
    : await gcJobPool(context.jobPath, context.logger);
  context.logger.info(`${outcome.chunksDeleted} chunks deleted, ${formatBytes(outcome.bytesFreed)} freed; ${outcome.chunksKept} chunks in use`);
  return 0;
}
