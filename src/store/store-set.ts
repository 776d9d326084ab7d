import type { Logger } from '../util/logger.js';
import type { RecordedHashes } from '../integrity/hash-record.js';
import type { DataState, DirectoryListing, HashRecordSink, RevisionReader, RevisionWriter, Store } from './store.js';

/**
 * A job's stores: new revisions go into the one its `config` names, while
 * revisions made before the job changed store stay readable (and
 * removable) in the one that holds them. A backup whose parent is in
 * another store is a full one into the new store.
 */
export class StoreSet implements Store {
  readonly name: string;
  readonly filePath?: (id: string) => string;

  constructor(
    private readonly primary: Store,
    private readonly others: readonly Store[],
  ) {
    this.name = primary.name;
    if (primary.filePath) this.filePath = (id) => primary.filePath!(id);
  }

  private get all(): Store[] {
    return [this.primary, ...this.others];
  }

  /**
   * The image file of a revision whose data is a plain file in the store
   * that holds it: after a change of store, `filePath` (the primary
   * store's) names files that revisions of the other store never had.
   */
  async fileOf(id: string): Promise<string | undefined> {
    return (await this.holder(id)).filePath?.(id);
  }

  /** The store holding the revision's data (the primary one when none does). */
  async holder(id: string): Promise<Store> {
    for (const store of this.all) if ((await store.stat(id)).state !== 'missing') return store;
    return this.primary;
  }

  async create(id: string, parent: { id: string; hashes: RecordedHashes | null } | null, logger: Logger): Promise<RevisionWriter> {
    if (parent) {
      const holder = await this.holder(parent.id);
      if (holder !== this.primary) {
        logger.info(`parent revision ${parent.id} is in the ${holder.name} store: this backup is a full one into the ${this.primary.name} store`);
        return this.primary.create(id, null, logger);
      }
    }
    return this.primary.create(id, parent, logger);
  }

  async open(id: string): Promise<RevisionReader> {
    return (await this.holder(id)).open(id);
  }

  async stat(id: string): Promise<DataState> {
    return (await this.holder(id)).stat(id);
  }

  async recordHashes(id: string, size: number, fill: (record: HashRecordSink) => Promise<void>): Promise<RecordedHashes> {
    return (await this.holder(id)).recordHashes(id, size, fill);
  }

  async remove(id: string): Promise<void> {
    for (const store of this.all) await store.remove(id);
  }

  async list(listing?: DirectoryListing): Promise<string[]> {
    const ids = new Set<string>();
    for (const store of this.all) for (const id of await store.list(listing)) ids.add(id);
    return [...ids];
  }

  async present(listing?: DirectoryListing): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const store of this.all) for (const id of await store.present(listing)) ids.add(id);
    return ids;
  }

  async damagedRevisions(ids: readonly string[]): Promise<string[]> {
    const found = new Set<string>();
    for (const store of this.all) for (const id of (await store.damagedRevisions?.(ids)) ?? []) found.add(id);
    return [...found];
  }

  /** The member store of the given name, if the job has one. */
  member(name: string): Store | undefined {
    return this.all.find((store) => store.name === name);
  }
}
