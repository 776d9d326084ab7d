import { BackyError } from '../../util/errors.js';
import type { ActionContext } from '../context.js';

export async function check(_context: ActionContext, _configPath: string): Promise<number> {
  throw new BackyError('UNKNOWN: check is not available in this build yet', { exitCode: 3 });
}
