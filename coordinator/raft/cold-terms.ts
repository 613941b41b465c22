/**
 * The terms of a contiguous range of log entries that are no longer held in memory, as runs (a term
 * changes only at elections, so a range of thousands of entries is a handful of runs).
 */
export class ColdTerms {
  /** runFirst[r] is the first index of run r, whose entries all have term runTerm[r]; both ascending. */
  private runFirst: number[] = [];
  private runTerm: number[] = [];

  /** Appends the term of `index`, which must follow the last index pushed. */
  push(index: number, term: number): void {
    if (this.runTerm.at(-1) !== term) {
      this.runFirst.push(index);
      this.runTerm.push(term);
    }
  }

  /** The term of `index`; the caller knows it is in the range pushed. */
  at(index: number): number {
    let lo = 0;
    let hi = this.runFirst.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runFirst[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.runTerm[lo]!;
  }

  /** Forgets indexes through `index` (a snapshot covers them). */
  dropThrough(index: number): void {
    let r = 0;
    while (r + 1 < this.runFirst.length && this.runFirst[r + 1]! <= index + 1) r++;
    this.runFirst = this.runFirst.slice(r);
    this.runTerm = this.runTerm.slice(r);
    if (this.runFirst.length > 0) this.runFirst[0] = Math.max(this.runFirst[0]!, index + 1);
  }
}
