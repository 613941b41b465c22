import type { Snapshot } from './types.js';

/**
 * What a leader knows about one follower's log, and how it paces replication to it (etcd's Progress):
 *  - probe: the leader does not know where the logs match; one append at a time until one is accepted.
 *  - replicate: the logs match up to `match`; appends are pipelined optimistically, at most
 *    `maxInflight` unacknowledged at once, so a slow follower is not buried.
 *  - snapshot: the entries the follower needs are compacted; only snapshot chunks are sent.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  state: ProgressState = 'probe';
  /** Highest index known to be replicated on the follower. */
  match = 0;
  /** Next index to send. */
  next: number;
  /** In probe state: an append is out and we wait for its answer (or a heartbeat answer) before the next. */
  probeSent = false;
  /** Last index of each unacknowledged append, oldest first (replicate state). */
  private inflight: number[] = [];
  /**
   * In snapshot state: the snapshot being sent (kept even if the leader compacts again meanwhile, so
   * that frequent compaction cannot keep restarting a long transfer), how much of it the follower
   * holds, and that amount as of the last heartbeat answer (unchanged across a heartbeat round means
   * the chunk in flight was lost).
   */
  snapshot: Snapshot | null = null;
  snapshotOffset = 0;
  snapshotOffsetAtHeartbeat = -1;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** The newest heartbeat round of this term the follower answered (0: none). */
  heartbeatRoundAcked = 0;

  constructor(
    next: number,
    private readonly maxInflight: number,
  ) {
    this.next = next;
  }

  becomeProbe(): void {
    // After a snapshot the follower holds at least the snapshot, even if its answer has not arrived.
    this.next = this.snapshot !== null ? Math.max(this.match + 1, this.snapshot.meta.index + 1) : this.match + 1;
    this.reset('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.reset('replicate');
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.reset('snapshot');
    this.snapshot = snapshot;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.inflight = [];
    this.snapshot = null;
    this.snapshotOffset = 0;
    this.snapshotOffsetAtHeartbeat = -1;
  }

  /** An append up to `index` was acknowledged. Returns false for a stale acknowledgement. */
  maybeUpdate(index: number): boolean {
    this.next = Math.max(this.next, index + 1);
    if (index <= this.match) return false;
    this.match = index;
    this.probeSent = false;
    return true;
  }

  /**
   * An append at `rejected` was refused; `hint` is the highest index that may still match. Returns false
   * when the refusal is stale (a reordered or duplicated answer to an append sent before a later one).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      // Pipelined appends after a gap will all be refused: fall back to probing right after `match`.
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append whose last entry is `lastIndex`. */
  sentEntries(lastIndex: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** Frees the window for appends acknowledged through `index`. */
  freeInflightThrough(index: number): void {
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
  }

  /**
   * A heartbeat answer proves the follower is reachable; if the window is full, the appends in it may
   * all have been lost. Freeing one slot lets one more append out, which the follower either accepts
   * or refuses (revealing the gap): either way the pipeline moves again.
   */
  freeOneInflight(): void {
    if (this.inflight.length >= this.maxInflight) this.inflight.shift();
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }
}
