import type { NodeId, ReadState } from './types.js';

interface PendingRead {
  readonly ctx: string;
  /** The leader's commit index when the read arrived: the read must observe at least this. */
  readonly index: number;
  readonly acks: Set<NodeId>;
}

/**
 * ReadIndex requests waiting for a heartbeat round to confirm that this node was still the leader
 * after they arrived (dissertation §6.4). Reads are confirmed in arrival order: an acknowledgement of
 * the heartbeat that carried a request's ctx was sent after every earlier request arrived too.
 */
export class ReadOnlyQueue {
  private pending: PendingRead[] = [];

  /** Returns false if a read with this ctx is already waiting (a retry), which keeps its place. */
  add(ctx: string, index: number, self: NodeId): boolean {
    if (this.pending.some((read) => read.ctx === ctx)) return false;
    this.pending.push({ ctx, index, acks: new Set([self]) });
    return true;
  }

  /** The ctx a heartbeat should carry: acknowledging it confirms every read that is waiting. */
  latestCtx(): string | null {
    return this.pending.at(-1)?.ctx ?? null;
  }

  /** Records that `from` acknowledged the heartbeat carrying `ctx`; returns who has, or null if unknown. */
  acknowledge(from: NodeId, ctx: string): ReadonlySet<NodeId> | null {
    const read = this.pending.find((r) => r.ctx === ctx);
    if (read === undefined) return null;
    read.acks.add(from);
    return read.acks;
  }

  /** Removes and returns the reads up to and including `ctx`, now safe to serve at their index. */
  releaseThrough(ctx: string): ReadState[] {
    const end = this.pending.findIndex((r) => r.ctx === ctx);
    if (end < 0) return [];
    return this.pending.splice(0, end + 1).map(({ ctx, index }) => ({ ctx, index }));
  }

  /** Leadership ended: the requests cannot be confirmed any more; callers retry with the new leader. */
  clear(): void {
    this.pending = [];
  }
}
