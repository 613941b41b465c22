/**
 * How fast claims finish while claims are waiting for a place, in keys per millisecond: the leader's
 * capacity, not the demand. Counted over busy time only (a line waiting), since a leader asked for little
 * finishes little; measured otherwise, a lull would read as a slow leader, the slow reading would send
 * the refused away for longer, and the next lull would be longer still. Older busy time weighs less:
 * both sums halve once they hold two windows of it.
 */
export class CompletionRate {
  private keys = 0;
  private busyMs = 0;
  private busySince: number | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {
    if (!(windowMs > 0)) throw new RangeError('a completion rate needs a positive window');
  }

  /** Whether claims are waiting for a place now. */
  setBusy(busy: boolean): void {
    if (busy && this.busySince === null) this.busySince = this.now();
    else if (!busy && this.busySince !== null) {
      this.busyMs += this.now() - this.busySince;
      this.busySince = null;
      this.decay();
    }
  }

  /** Keys whose claims finished now: counted if claims are waiting. */
  record(keys: number): void {
    if (this.busySince === null) return;
    this.keys += keys;
    // A long busy stretch is folded in as it goes, so that it too ages.
    const now = this.now();
    if (now - this.busySince >= this.windowMs) {
      this.busyMs += now - this.busySince;
      this.busySince = now;
      this.decay();
    }
  }

  /** Keys per millisecond, or null while there has been less than a window of busy time to tell by. */
  perMs(): number | null {
    const busyMs = this.busyMs + (this.busySince === null ? 0 : this.now() - this.busySince);
    if (busyMs < this.windowMs || this.keys === 0) return null;
    return this.keys / busyMs;
  }

  private decay(): void {
    if (this.busyMs < 2 * this.windowMs) return;
    this.busyMs /= 2;
    this.keys /= 2;
  }
}
