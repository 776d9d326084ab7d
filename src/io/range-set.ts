/**
 * Sorted, merged half-open byte ranges. Backups append in ascending order
 * (the common case is O(1)); memory grows with the number of separate
 * changed regions, not with the image size.
 */
export class RangeSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

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
    this.insertSlow(start, end);
  }

  /** The ranges intersecting [start, end), clipped to it, in order. */
  *within(start: number, end: number): Generator<[number, number]> {
    let i = this.firstEndingAfter(start);
    for (; i < this.starts.length && this.starts[i]! < end; i++) {
      yield [Math.max(start, this.starts[i]!), Math.min(end, this.ends[i]!)];
    }
  }

  get count(): number {
    return this.starts.length;
  }

  totalBytes(): number {
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

  private insertSlow(start: number, end: number): void {
    let i = this.firstEndingAfter(start);
    // Touching ranges merge too.
    if (i > 0 && this.ends[i - 1] === start) i -= 1;
    let j = i;
    while (j < this.starts.length && this.starts[j]! <= end) {
      start = Math.min(start, this.starts[j]!);
      end = Math.max(end, this.ends[j]!);
      j++;
    }
    this.starts.splice(i, j - i, start);
    this.ends.splice(i, j - i, end);
  }
}
