import type { FileHandle } from 'node:fs/promises';
import { ImageFile } from '../../io/image-file.js';
import { dataRanges } from '../../io/native-io.js';
import { readFully } from '../../io/read-fully.js';
import { HashRecord, type RecordedHashes } from '../../integrity/hash-record.js';
import type { RevisionReader } from '../store.js';

/** A cow revision's image file, read where it holds data; holes read as zeros. */
export class CowRevisionReader implements RevisionReader {
  private readonly image: ImageFile;

  constructor(
    handle: FileHandle,
    readonly size: number,
    private readonly recordPath: string,
  ) {
    this.image = ImageFile.buffered(handle);
  }

  get fd(): number {
    return this.image.fd;
  }

  read(buffer: Buffer, length: number, position: number): Promise<number> {
    return readFully(this.image, buffer, Math.max(0, Math.min(length, this.size - position)), position);
  }

  async dataRanges(start: number, end: number): Promise<Array<[number, number]>> {
    const stop = Math.min(end, this.size);
    const map = dataRanges(this.image.fd, start, stop);
    // Without the native helper (or SEEK_DATA) everything may hold data.
    if (!map) return start < stop ? [[start, stop]] : [];
    // An image shorter than recorded reads short; the caller sees that when it reads.
    return map.ranges;
  }

  hashes(recorded: RecordedHashes): Promise<HashRecord> {
    return HashRecord.open(this.recordPath, this.size, recorded);
  }

  close(): Promise<void> {
    return this.image.close();
  }
}
