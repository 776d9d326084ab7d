import { BackyError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { StoreSet } from '../store/store-set.js';
import type { Store } from '../store/store.js';
import { selectRevision } from './revision-data.js';
import type { Revision } from './revision.js';

/**
 * `backy find`: the image file of the revision a spec names, for the
 * manual's kpartx recipe. Only a revision whose data is there as a file
 * has one.
 */
export async function findRevision(path: string, spec: string | undefined, logger: Logger, now: Date): Promise<{ revision: Revision; image: string }> {
  const { store, revision } = await selectRevision(path, spec, logger, now);
  const image = await imageFile(store, revision.uuid);
  if (!image) {
    const holder = store instanceof StoreSet ? await store.holder(revision.uuid) : store;
    throw new BackyError(`revision ${revision.uuid} has no image file (it is kept in the ${holder.name} store); get one with 'backy restore -r ${revision.uuid} FILE'`);
  }
  const data = await store.stat(revision.uuid);
  if (data.state === 'missing') throw new BackyError(`the image of revision ${revision.uuid} is missing (${image})`);
  if (data.state === 'unreadable') throw new BackyError(`the image of revision ${revision.uuid} is unreadable: ${data.reason}`);
  return { revision, image };
}

/** The revision's image file in the store that holds it, where that store keeps plain files. */
export async function imageFile(store: Store, id: string): Promise<string | undefined> {
  return store instanceof StoreSet ? store.fileOf(id) : store.filePath?.(id);
}
