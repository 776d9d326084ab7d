import { BackyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { selectRevision } from './revision-data.js';
import type { Revision } from './revision.js';

/**
 * `backy find`: the image file of the revision a spec names, for the
 * manual's kpartx recipe. Only a revision whose data is there as a file
 * has one.
 */
export async function findRevision(path: string, spec: string | undefined, logger: Logger, now: Date): Promise<{ revision: Revision; image: string }> {
  const { store, revision } = await selectRevision(path, spec, logger, now);
  if (!store.filePath) {
    throw new BackyError(`revision ${revision.uuid} has no image file (its job keeps revisions in the ${store.name} store); get one with 'backy restore -r ${revision.uuid} FILE'`);
  }
  const data = await store.stat(revision.uuid);
  if (data.state === 'missing') throw new BackyError(`the image of revision ${revision.uuid} is missing (${store.filePath(revision.uuid)})`);
  if (data.state === 'unreadable') throw new BackyError(`the image of revision ${revision.uuid} is unreadable: ${data.reason}`);
  return { revision, image: store.filePath(revision.uuid) };
}
