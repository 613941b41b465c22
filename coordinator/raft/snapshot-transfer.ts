import { PartedText } from './snapshot-data.js';
import type { Snapshot, SnapshotChunkMessage, SnapshotMeta } from './types.js';

/** The chunk of `snapshot` that starts at `offset`; the last chunk is marked done (an empty snapshot has one, empty, chunk). */
export function snapshotChunk(snapshot: Snapshot, offset: number, chunkSize: number): { data: string; done: boolean } {
  const data = snapshot.data.slice(offset, offset + chunkSize);
  return { data, done: offset + data.length >= snapshot.data.length };
}

/**
 * A follower's buffer for the snapshot it is receiving. Only the next expected chunk is taken; any
 * other chunk is answered with how much is held, so the leader resends from there. Data at a given
 * (index, term) is the same whichever leader sends it, so a transfer a new leader restarts continues
 * where the buffer stands. The buffer lives in memory only: after a restart the follower answers 0 and
 * the transfer starts over; a chunk of another snapshot replaces the buffer.
 */
export class SnapshotAssembler {
  private meta: SnapshotMeta | null = null;
  private parts: string[] = [];
  private received = 0;

  /** Takes a chunk; returns how much of its snapshot is held, and the snapshot once it is complete. */
  add(chunk: SnapshotChunkMessage): { received: number; snapshot: Snapshot | null } {
    if (this.meta === null || this.meta.index !== chunk.meta.index || this.meta.term !== chunk.meta.term) {
      this.meta = chunk.meta;
      this.parts = [];
      this.received = 0;
    }
    if (chunk.offset !== this.received) return { received: this.received, snapshot: null };
    this.parts.push(chunk.data);
    this.received += chunk.data.length;
    if (!chunk.done) return { received: this.received, snapshot: null };
    // Kept in the parts received: a large snapshot is never joined into one string.
    const snapshot: Snapshot = { meta: chunk.meta, data: new PartedText(this.parts) };
    this.meta = null;
    this.parts = [];
    this.received = 0;
    return { received: snapshot.data.length, snapshot };
  }
}
