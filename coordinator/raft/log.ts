import { ColdTerms } from './cold-terms.js';
import { RaftInvariantError, type DurableEntries, type Entry, type Snapshot } from './types.js';

/** What an entry is reckoned to hold in memory beyond its data: the object, its fields, the array slot. */
const ENTRY_OVERHEAD_CHARS = 64;
const entrySize = (entry: Entry) => entry.data.length + ENTRY_OVERHEAD_CHARS;

/**
 * The Raft log of one node: a compaction point (the last entry a snapshot covers) followed by the
 * entries after it. Entries up to `stableIndex` are durable; the rest are waiting for the driver to
 * persist them (they go out in the next Ready). `committed` only moves forward.
 *
 * With `durable`, entries that are durable and applied are dropped from memory once more than a tail of
 * them is held (only their terms stay, for the consistency checks); a lagging follower's entries are
 * read back from the durable log. Without it every entry stays in memory until compaction.
 */
export class RaftLog {
  private snapshotIndex: number;
  private snapshotTerm: number;
  /** Entries in (snapshotIndex, coldThrough] are only on disk; their terms are in coldTerms. */
  private coldThrough: number;
  private coldTerms = new ColdTerms();
  /** entries[k].index === coldThrough + 1 + k. */
  private entries: Entry[];
  /** The sum of entrySize over `entries`. */
  private memoryChars = 0;
  private committedIndex: number;
  /**
   * Entries at or below this index need not be handed to the driver again: they are durable, or covered
   * by `unstableSnapshot`, which goes out in the same Ready as anything after it.
   */
  private stableIndex: number;
  /** A snapshot received from the leader that the driver has not yet made durable. */
  private unstableSnapshot: Snapshot | null = null;

  constructor(
    snapshotIndex: number,
    snapshotTerm: number,
    durableEntries: readonly Entry[],
    committed: number,
    private readonly durable: DurableEntries | null = null,
  ) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    this.coldThrough = snapshotIndex;
    this.entries = [...durableEntries];
    this.entries.forEach((entry, k) => {
      if (entry.index !== snapshotIndex + 1 + k) {
        throw new RaftInvariantError(`recovered log has a gap: entry ${k} after snapshot ${snapshotIndex} has index ${entry.index}`);
      }
      this.memoryChars += entrySize(entry);
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
    return this.coldThrough + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** The term of the entry at `index`, or undefined if it was compacted away or does not exist yet. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    if (index <= this.coldThrough) return this.coldTerms.at(index);
    return this.entries[index - this.coldThrough - 1]!.term;
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
    return this.slice(from, Math.min(from + maxCount - 1, this.lastIndex()));
  }

  /** Entries in (after, through], all of which must still be in the log. */
  entriesBetween(after: number, through: number): Entry[] {
    if (after < this.snapshotIndex) throw new RaftInvariantError(`entries after ${after} were compacted (log starts after ${this.snapshotIndex})`);
    return this.slice(after + 1, Math.min(through, this.lastIndex()));
  }

  /** Entries [from, through], those dropped from memory read back from the durable log. */
  private slice(from: number, through: number): Entry[] {
    if (through < from) return [];
    const hot = through > this.coldThrough ? this.entries.slice(Math.max(from, this.coldThrough + 1) - this.coldThrough - 1, through - this.coldThrough) : [];
    if (from > this.coldThrough) return hot;
    const coldTo = Math.min(through, this.coldThrough);
    const cold = this.durable!.read(from, coldTo);
    cold.forEach((entry, k) => {
      // Only what Raft made durable is dropped, so the disk must hold exactly it: anything else is broken storage.
      if (entry.index !== from + k || entry.term !== this.coldTerms.at(from + k)) {
        throw new RaftInvariantError(`the durable log returned entry ${entry.index} (term ${entry.term}) for ${from + k} (term ${this.coldTerms.at(from + k)})`);
      }
    });
    if (cold.length !== coldTo - from + 1) throw new RaftInvariantError(`the durable log returned ${cold.length} entries for ${from}..${coldTo}`);
    return hot.length === 0 ? [...cold] : [...cold, ...hot];
  }

  /** The leader's own append: entries must continue the log. */
  append(entries: readonly Entry[]): void {
    if (entries.length > 0 && entries[0]!.index !== this.lastIndex() + 1) {
      throw new RaftInvariantError(`append at ${entries[0]!.index} does not continue the log ending at ${this.lastIndex()}`);
    }
    for (const entry of entries) {
      this.entries.push(entry);
      this.memoryChars += entrySize(entry);
    }
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
    if (from <= this.coldThrough) throw new RaftInvariantError(`truncating at ${from}, but entries through ${this.coldThrough} are applied`);
    for (const dropped of this.entries.splice(from - this.coldThrough - 1)) this.memoryChars -= entrySize(dropped);
    this.append(entries);
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
    return this.entries.slice(this.stableIndex - this.coldThrough);
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
    this.coldThrough = snapshot.meta.index;
    this.coldTerms = new ColdTerms();
    this.entries = [];
    this.memoryChars = 0;
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
    this.snapshotIndex = index;
    if (index <= this.coldThrough) {
      this.coldTerms.dropThrough(index);
      return;
    }
    this.dropFromMemory(index - this.coldThrough);
    this.coldTerms = new ColdTerms();
  }

  /**
   * Drops the oldest entries from memory that are durable and applied through `applied`, keeping at
   * least the durable log's `memoryTailChars` of the newest. Entries go in bulk, once twice the tail is
   * held, so that the array is copied rarely.
   */
  dropApplied(applied: number): void {
    if (this.durable === null || this.memoryChars <= 2 * this.durable.memoryTailChars) return;
    const through = Math.min(applied, this.stableIndex, this.committedIndex);
    let count = 0;
    let chars = this.memoryChars;
    for (const entry of this.entries) {
      if (entry.index > through || chars <= this.durable.memoryTailChars) break;
      chars -= entrySize(entry);
      this.coldTerms.push(entry.index, entry.term);
      count++;
    }
    this.dropFromMemory(count);
  }

  /** Removes the first `count` entries from memory; coldThrough moves past them. */
  private dropFromMemory(count: number): void {
    if (count === 0) return;
    for (let k = 0; k < count; k++) this.memoryChars -= entrySize(this.entries[k]!);
    this.entries = this.entries.slice(count);
    this.coldThrough += count;
  }
}
