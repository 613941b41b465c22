import { Counter, Gauge, type Registry } from 'prom-client';

/** What the Raft metrics read at scrape time (RaftReplicatedLog.status). */
export interface RaftStatusView {
  readonly role: string;
  readonly lead: string | null;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly leaderChanges: number;
  readonly confState: { readonly voters: readonly string[]; readonly learners: readonly string[] };
}

/**
 * This replica's view of the Raft group, exported by every replica (pool gauges come from the leader
 * only): the alerts on a lost quorum or a replica falling behind, and the dashboard, read these.
 */
export function registerRaftMetrics(registry: Registry, status: () => RaftStatusView): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (s: RaftStatusView) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(status()));
      },
    });
  gauge('keylease_raft_is_leader', '1 on the replica that leads, 0 elsewhere.', (s) => (s.role === 'leader' ? 1 : 0));
  gauge('keylease_raft_has_leader', '1 while this replica knows a leader; 0 means it cannot serve claims.', (s) => (s.lead === null ? 0 : 1));
  gauge('keylease_raft_term', 'Current Raft term; a rising term without load means elections.', (s) => s.term);
  gauge('keylease_raft_commit_index', 'Highest log index this replica knows to be committed.', (s) => s.commit);
  gauge('keylease_raft_applied_index', 'Highest log index this replica has applied to its pool state.', (s) => s.applied);
  // From one reading of the status, so it is never computed from indices of two different moments.
  gauge('keylease_raft_apply_lag_entries', 'Committed entries this replica has not applied yet (commit index minus applied index); a lag that stays up means a slow disk or a stalled apply.', (s) => Math.max(0, s.commit - s.applied));
  gauge('keylease_raft_voters', 'Voting members in this replica\'s configuration.', (s) => s.confState.voters.length);
  gauge('keylease_raft_learners', 'Learners (catching up, not voting) in this replica\'s configuration.', (s) => s.confState.learners.length);
  new Counter({
    name: 'keylease_raft_leader_changes_total',
    help: 'Times this replica came to know a leader after knowing none or another one (its first election counts): every change leaves claims and renewals unserved for a moment.',
    registers,
    collect() {
      // The replica keeps the count; a counter only goes up, so setting it is reset plus increment.
      this.reset();
      this.inc(status().leaderChanges);
    },
  });
}
