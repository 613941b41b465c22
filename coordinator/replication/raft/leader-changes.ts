import type { NodeId } from '../../raft/types.js';

/**
 * Counts the leaders a replica comes to know, as etcd's leader_changes_seen does: a known leader after
 * none or after another one. Losing the leader and finding the same one again counts too, since the
 * replica served nothing in between.
 */
export class LeaderChangeCounter {
  private lastLead: NodeId | null = null;
  private seen = 0;

  get count(): number {
    return this.seen;
  }

  /** The leader this replica now knows (null: none). */
  observe(lead: NodeId | null): void {
    if (lead !== null && lead !== this.lastLead) this.seen++;
    this.lastLead = lead;
  }
}
