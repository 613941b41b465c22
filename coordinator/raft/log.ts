import { RaftInvariantError, type Entry, type Snapshot } from './types.js';

/**
 * The in-memory Raft log of one node: a compaction point (the last entry a snapshot covers) followed by
 * the entries after it. Entries up to `stableIndex` are durable; the rest are waiting for the driver to
 * persist them (they go out in the next Ready). `committed` only moves forward.
 */
export class RaftLog {
  private snapshotIndex: number;
  private snapshotTerm: number;
  /** entries[k].index === snapshotIndex + 1 + k. */
  private entries: Entry[];
  private committedIndex: number;
  /**
   * Entries at or below this index need not be handed to the driver again: they are durable, or covered
   * by `unstableSnapshot`, which goes out in the same Ready as anything after it.
   */
  private stableIndex: number;
  /** A snapshot received from the leader that the driver has not yet made durable. */
  private unstableSnapshot: Snapshot | null = null;

  constructor(snapshotIndex: number, snapshotTerm: number, durableEntries: readonly Entry[], committed: number) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.entries = [...durableEntries];
    this.entries.forEach((entry, k) => {
      if (entry.index !== snapshotIndex + 1 + k) {
        throw new RaftInvariantError(`recovered log has a gap: entry ${k} after snapshot ${snapshotIndex} has index ${entry.index}`);
      }
    });
    this.stableIndex = this.lastIndex();
    // A commit index beyond the durable log means the disk lost entries it had confirmed.
    if (committed > this.lastIndex()) {
      throw new RaftInvariantError(`recovered commit ${committed} is past the last durable entry ${this.lastIndex()}`);
    }
    this.committedIndex = Math.max(committed, snapshotIndex);
  }

  get committed(): number {
    return this.committedIndex;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** The term of the entry at `index`, or undefined if it was compacted away or does not exist yet. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1]!.term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Election restriction (§5.4.1): a log is more up to date by last term first, then by length. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm() || (lastTerm === this.lastTerm() && lastIndex >= this.lastIndex());
  }

  /** Up to `maxCount` entries from `from` on; null if `from` was compacted (a snapshot is needed). */
  entriesFrom(from: number, maxCount: number): Entry[] | null {
    if (from <= this.snapshotIndex) return null;
    const start = from - this.snapshotIndex - 1;
    return this.entries.slice(start, start + maxCount);
  }

  /** Entries in (after, through], all of which must still be in the log. */
  entriesBetween(after: number, through: number): Entry[] {
    if (after < this.snapshotIndex) throw new RaftInvariantError(`entries after ${after} were compacted (log starts after ${this.snapshotIndex})`);
    return this.entries.slice(after - this.snapshotIndex, through - this.snapshotIndex);
  }

  /** The leader's own append: entries must continue the log. */
  append(entries: readonly Entry[]): void {
    if (entries.length > 0 && entries[0]!.index !== this.lastIndex() + 1) {
      throw new RaftInvariantError(`append at ${entries[0]!.index} does not continue the log ending at ${this.lastIndex()}`);
    }
    this.entries.push(...entries);
  }

  /**
   * A follower's AppendEntries consistency check and append (figure 2, receiver rules 2-4). Returns null
   * if the log does not contain (prevIndex, prevTerm); otherwise the index of the last entry the leader
   * sent, and `writtenFrom`, the first index whose entry actually changed (null if none did), so the
   * caller can redo what it derived from the replaced suffix.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): { lastNewIndex: number; writtenFrom: number | null } | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNewIndex = prevIndex + entries.length;
    // Entries already present with the same term are skipped, not rewritten: a delayed, duplicated or
    // reordered append must never truncate entries that a later append added.
    const conflict = entries.find((entry) => !this.matchTerm(entry.index, entry.term));
    let writtenFrom: number | null = null;
    if (conflict !== undefined) {
      if (conflict.index <= this.committedIndex) {
        throw new RaftInvariantError(`entry ${conflict.index} conflicts with the committed log (committed ${this.committedIndex})`);
      }
      this.truncateAndAppend(entries.slice(conflict.index - entries[0]!.index));
      writtenFrom = conflict.index;
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return { lastNewIndex, writtenFrom };
  }

  private truncateAndAppend(entries: readonly Entry[]): void {
    const from = entries[0]!.index;
    this.entries.length = from - this.snapshotIndex - 1;
    this.entries.push(...entries);
    this.stableIndex = Math.min(this.stableIndex, from - 1);
  }

  /**
   * The last index ≤ `index` whose term is ≤ `term` (with that term), used on both sides of a rejected
   * append: every entry above it is known not to match, so probing can skip them all at once.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); ; i--) {
      const t = this.term(i);
      // Below the compaction point terms are unknown: term 0 tells the other side to use the index as is.
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
  }

  commitTo(index: number): void {
    if (index <= this.committedIndex) return;
    if (index > this.lastIndex()) throw new RaftInvariantError(`commit ${index} is past the last entry ${this.lastIndex()}`);
    this.committedIndex = index;
  }

  /** Entries the driver has not yet been asked to persist. */
  unstableEntries(): Entry[] {
    return this.entries.slice(this.stableIndex - this.snapshotIndex);
  }

  pendingSnapshot(): Snapshot | null {
    return this.unstableSnapshot;
  }

  lastStableIndex(): number {
    return this.stableIndex;
  }

  /**
   * The driver made entries through (index, term) durable. If the log changed at `index` since that
   * Ready was handed out, the durable copy is stale and nothing is marked; by Log Matching, an equal
   * term at `index` means the whole prefix is the same.
   */
  stableTo(index: number, term: number): void {
    if (index > this.stableIndex && this.matchTerm(index, term)) this.stableIndex = index;
  }

  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot?.meta.index === index) this.unstableSnapshot = null;
  }

  /** Replaces the whole log with a snapshot from the leader (whose entries conflict with ours). */
  restore(snapshot: Snapshot): void {
    this.snapshotIndex = snapshot.meta.index;
    this.snapshotTerm = snapshot.meta.term;
    this.entries = [];
    this.committedIndex = snapshot.meta.index;
    this.stableIndex = snapshot.meta.index;
    this.unstableSnapshot = snapshot;
  }

  /** Drops entries through `index`, which a local snapshot now covers. */
  compact(index: number): void {
    if (index <= this.snapshotIndex) return;
    if (index > this.committedIndex || index > this.stableIndex) {
      throw new RaftInvariantError(`cannot compact to ${index}: committed ${this.committedIndex}, durable ${this.stableIndex}`);
    }
    this.snapshotTerm = this.term(index)!;
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
  }
}
