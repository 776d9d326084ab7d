/**
 * Sorted, merged half-open byte ranges. Backups append in ascending order
 * (the common case is O(1)); ranges added out of order wait in a batch
 * that is sorted and merged in when the set is read or the batch grows as
 * large as the set, so any order costs O(log n) per range, never the
 * O(n) of an insert into the middle each time (a diff stream listing
 * 320,000 records in descending order took minutes that way). Memory grows
 * with the number of separate changed regions, not with the image size.
 */
export class RangeSet {
  private starts: number[] = [];
  private ends: number[] = [];
  private readonly waiting: Array<[number, number]> = [];

  add(start: number, end: number): void {
    if (end <= start) return;
    const last = this.starts.length - 1;
    if (last < 0 || start > this.ends[last]!) {
      if (last < 0 || start >= this.starts[last]!) {
        this.starts.push(start);
        this.ends.push(end);
        return;
      }
    } else if (start >= this.starts[last]!) {
      this.ends[last] = Math.max(this.ends[last]!, end);
      return;
    }
    this.waiting.push([start, end]);
    if (this.waiting.length >= Math.max(BATCH, this.starts.length)) this.settle();
  }

  /** The ranges intersecting [start, end), clipped to it, in order. */
  *within(start: number, end: number): Generator<[number, number]> {
    this.settle();
    let i = this.firstEndingAfter(start);
    for (; i < this.starts.length && this.starts[i]! < end; i++) {
      yield [Math.max(start, this.starts[i]!), Math.min(end, this.ends[i]!)];
    }
  }

  get count(): number {
    this.settle();
    return this.starts.length;
  }

  totalBytes(): number {
    this.settle();
    let sum = 0;
    for (let i = 0; i < this.starts.length; i++) sum += this.ends[i]! - this.starts[i]!;
    return sum;
  }

  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Merges the waiting ranges in: both lists in order of their starts, touching and overlapping ranges joined. */
  private settle(): void {
    if (this.waiting.length === 0) return;
    this.waiting.sort((a, b) => a[0] - b[0]);
    const starts: number[] = [];
    const ends: number[] = [];
    const append = (start: number, end: number) => {
      const last = starts.length - 1;
      if (last >= 0 && start <= ends[last]!) ends[last] = Math.max(ends[last]!, end);
      else {
        starts.push(start);
        ends.push(end);
      }
    };
    let i = 0;
    let j = 0;
    while (i < this.starts.length || j < this.waiting.length) {
      if (j === this.waiting.length || (i < this.starts.length && this.starts[i]! <= this.waiting[j]![0])) {
        append(this.starts[i]!, this.ends[i]!);
        i++;
      } else {
        append(this.waiting[j]![0], this.waiting[j]![1]);
        j++;
      }
    }
    this.starts = starts;
    this.ends = ends;
    this.waiting.length = 0;
  }
}

/** Out-of-order ranges gathered before a merge, at the least. */
const BATCH = 1024;
