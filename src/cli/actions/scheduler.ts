import { BackyError } from '../../util/errors.js';
import type { ActionContext } from '../context.js';

export async function scheduler(_context: ActionContext, _configPath: string): Promise<number> {
  throw new BackyError('the scheduler is not available in this build yet');
}
