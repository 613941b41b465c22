import type { Entry, HardState, Ready, RecoveredState, Snapshot, SnapshotData, SnapshotMeta } from '../../coordinator/raft/types.js';

/**
 * A replica's disk. `durable` is what survives a crash. A Ready's batch is written atomically (one
 * checksummed record, as a classic-level batch): until its sync completes it is in flight, and a crash
 * then either tears it (the recovery drops the torn record, so none of it survives) or finds it fully
 * written (it survives, though the replica never sent the messages that waited for it).
 */
export class SimDisk {
  private hardState: HardState = { term: 0, vote: null, commit: 0 };
  private snapshot: Snapshot | null = null;
  /** entries[k].index === snapshotIndex + 1 + k. */
  private entries: Entry[] = [];
  private inFlight: Ready | null = null;

  /** Starts writing a Ready's batch; it becomes durable at sync(). */
  write(ready: Ready): void {
    if (this.inFlight !== null) throw new Error('a write is already in flight');
    this.inFlight = ready;
  }

  /** The in-flight batch is durable. Returns it. */
  sync(): Ready {
    const ready = this.inFlight;
    if (ready === null) throw new Error('nothing to sync');
    this.inFlight = null;
    if (ready.snapshot !== null) {
      this.snapshot = ready.snapshot;
      this.entries = [];
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      if (first.index <= this.snapshotIndex() || first.index > this.lastIndex() + 1) {
        throw new Error(`batch starts at ${first.index}, the durable log holds (${this.snapshotIndex()}, ${this.lastIndex()}]`);
      }
      // Truncating a conflicting suffix and appending its replacement happen in the same batch.
      this.entries.length = first.index - this.snapshotIndex() - 1;
      this.entries.push(...ready.entries);
    }
    if (ready.hardState !== null) this.hardState = ready.hardState;
    return ready;
  }

  isWriting(): boolean {
    return this.inFlight !== null;
  }

  /** A crash during the in-flight write: `survives` says whether the batch was fully written. */
  crash(survives: boolean): void {
    if (this.inFlight !== null && survives) this.sync();
    this.inFlight = null;
  }

  /** The application's snapshot at meta.index, written on its own; entries it covers are dropped. */
  saveSnapshot(meta: SnapshotMeta, data: SnapshotData): void {
    this.entries = this.entries.slice(meta.index - this.snapshotIndex());
    this.snapshot = { meta, data };
  }

  /** Durable entries [from, through]: what Raft reads back once it dropped them from memory. */
  readEntries(from: number, through: number): Entry[] {
    if (from <= this.snapshotIndex() || through > this.lastIndex()) throw new Error(`reading ${from}..${through}, the durable log holds (${this.snapshotIndex()}, ${this.lastIndex()}]`);
    return this.entries.slice(from - this.snapshotIndex() - 1, through - this.snapshotIndex());
  }

  recover(): RecoveredState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }

  snapshotIndex(): number {
    return this.snapshot?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex()) return this.snapshot?.meta.term ?? 0;
    return this.entries[index - this.snapshotIndex() - 1]?.term;
  }
}
