/**
 * The positions of the records a watcher has been sent, as sorted ranges, written as an SSE event ID:
 * `r` then `start-end` or `position` in base 36, joined by dots (`r0-1k.1n`). Targets settle roughly in order, so
 * the ranges stay few; a client that reconnects with the last ID it saw is sent only the records missing from it.
 */
export class DeliveredSet {
  /** Disjoint, non-adjacent, ascending [first, last] ranges. */
  private readonly ranges: [number, number][] = [];
  size = 0;

  /** The set an ID describes; undefined if the text is not such an ID. */
  static parse(id: string): DeliveredSet | undefined {
    if (!/^r(?:[0-9a-z]{1,8}(?:-[0-9a-z]{1,8})?(?:\.[0-9a-z]{1,8}(?:-[0-9a-z]{1,8})?)*)?$/.test(id)) return undefined;
    const set = new DeliveredSet();
    let previous = -2;
    for (const part of id.slice(1).split('.').filter(Boolean)) {
      const [first, last = first] = part.split('-').map((n) => parseInt(n, 36));
      // Ranges in order, apart and not inverted: any other text was not written by `toId`.
      if (first <= previous + 1 || last < first) return undefined;
      set.ranges.push([first, last]);
      set.size += last - first + 1;
      previous = last;
    }
    return set;
  }

  has(position: number): boolean {
    const i = this.indexAfter(position) - 1;
    return i >= 0 && this.ranges[i][1] >= position;
  }

  add(position: number): void {
    if (this.has(position)) return;
    this.size++;
    const i = this.indexAfter(position); // ranges[i - 1] starts before, ranges[i] after
    const before = this.ranges[i - 1];
    const after = this.ranges[i];
    const joinsBefore = before !== undefined && before[1] === position - 1;
    const joinsAfter = after !== undefined && after[0] === position + 1;
    if (joinsBefore && joinsAfter) {
      before[1] = after[1];
      this.ranges.splice(i, 1);
    } else if (joinsBefore) before[1] = position;
    else if (joinsAfter) after[0] = position;
    else this.ranges.splice(i, 0, [position, position]);
  }

  /** How many positions from 0 on are all delivered: records below need not be listed again. */
  prefix(): number {
    const first = this.ranges[0];
    return first && first[0] === 0 ? first[1] + 1 : 0;
  }

  toId(): string {
    const part = ([first, last]: [number, number]) =>
      first === last ? first.toString(36) : `${first.toString(36)}-${last.toString(36)}`;
    return `r${this.ranges.map(part).join('.')}`;
  }

  /** Index of the first range starting after `position`. */
  private indexAfter(position: number): number {
    let low = 0;
    let high = this.ranges.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.ranges[mid][0] <= position) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
