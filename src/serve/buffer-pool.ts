import { alignedBuffer } from '../io/native-io.js';

/**
 * A fixed number of equal, page-aligned buffers shared by every client of
 * a server: what bounds its memory whatever the clients ask. A buffer is
 * taken for each piece read (and held until the socket has sent it) and
 * for each write's payload. `acquire(n)` hands out n buffers at once, in
 * the order asked, so that no request holds some while waiting for more.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private made = 0;
  private readonly queue: Array<{ count: number; resolve(buffers: Buffer[]): void }> = [];

  constructor(
    readonly bufferSize: number,
    readonly capacity: number,
  ) {}

  acquire(count: number): Promise<Buffer[]> {
    if (count > this.capacity) throw new Error(`asked for ${count} buffers of a pool of ${this.capacity}`);
    return new Promise((resolve) => {
      this.queue.push({ count, resolve });
      this.serve();
    });
  }

  release(buffer: Buffer): void {
    this.free.push(buffer);
    this.serve();
  }

  private available(): number {
    return this.free.length + (this.capacity - this.made);
  }

  private serve(): void {
    while (this.queue.length > 0 && this.queue[0]!.count <= this.available()) {
      const { count, resolve } = this.queue.shift()!;
      const buffers: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        if (this.free.length > 0) buffers.push(this.free.pop()!);
        else {
          this.made++;
          buffers.push(alignedBuffer(this.bufferSize));
        }
      }
      resolve(buffers);
    }
  }
}

/**
 * One client's share of a pool: at most `limit` of its buffers at once,
 * so that a client that does not read its replies (each holds its buffer
 * until the socket sent it) cannot hold the buffers everybody reads with.
 */
export class PoolShare {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly pool: BufferPool,
    private readonly limit: number,
  ) {}

  get bufferSize(): number {
    return this.pool.bufferSize;
  }

  async acquire(): Promise<Buffer> {
    while (this.held >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.held++;
    const [buffer] = await this.pool.acquire(1);
    return buffer!;
  }

  release(buffer: Buffer): void {
    this.held--;
    this.pool.release(buffer);
    this.waiting.shift()?.();
  }
}
