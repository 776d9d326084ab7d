import { chmod } from 'node:fs/promises';
import type { ImageReader, WriterStats } from '../../io/image.js';
import type { HashRecordWriter } from '../../integrity/hash-record.js';
import type { CloneMethod, CommittedData, RevisionWriter } from '../store.js';
import type { DeltaWriter } from './delta-writer.js';

/** A cow revision being written: the delta writer over its image, and its hash record. */
export class CowRevisionWriter implements RevisionWriter {
  constructor(
    private readonly writer: DeltaWriter,
    private readonly record: HashRecordWriter,
    readonly clone: CloneMethod,
    /** The image and the record, made read-only on commit. */
    private readonly files: readonly string[],
  ) {}

  get size(): number {
    return this.writer.size;
  }

  get holdsParent(): boolean {
    return this.writer.holdsParent;
  }

  resize(size: number): Promise<void> {
    return this.writer.resize(size);
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.writer.write(offset, data);
  }

  overwrite(offset: number, data: Buffer): Promise<void> {
    return this.writer.overwrite(offset, data);
  }

  zero(offset: number, length: number): Promise<void> {
    return this.writer.zero(offset, length);
  }

  stats(): WriterStats {
    return this.writer.stats();
  }

  sync(): Promise<void> {
    return this.writer.sync();
  }

  reader(): ImageReader {
    return this.writer.reader();
  }

  async commit(): Promise<CommittedData> {
    const hashes = await this.writer.finishHashes();
    for (const file of this.files) await chmod(file, 0o440);
    return { hashes };
  }

  async close(): Promise<void> {
    try {
      await this.writer.close();
    } finally {
      await this.record.close();
    }
  }
}
