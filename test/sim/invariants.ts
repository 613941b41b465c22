import type { Entry, NodeId, Ready } from '../../coordinator/raft/types.js';
import type { SimDisk } from './disk.js';
import type { Replica, ReplicaObserver } from './replica.js';
import type { ReplicatedStateMachine } from './state-machine.js';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

interface SeenEntry {
  readonly data: string;
  readonly prevTerm: number;
}

/**
 * Raft's safety properties (figure 3), checked incrementally as replicas persist and apply, so that a
 * violation is reported at the step that caused it:
 *  - Election Safety: at most one leader per term, over the whole run.
 *  - Log Matching: equal (index, term) in any two durable logs ⇒ equal data and equal previous term
 *    (hence, inductively, equal prefixes).
 *  - Leader Completeness: a new leader of term T holds every entry committed in a term before T. The
 *    commit term is bounded above by the term of a replica that applied the entry (it was committed no
 *    later than that), so the check uses that bound and never blames a leader of a stale term whose
 *    votes arrived late.
 *  - State Machine Safety: every replica applies the same entry at each index, and equal applied
 *    indexes give equal state hashes (also across snapshots and restarts).
 *  - Durable before applied: when a replica applies an entry, a majority of the voters hold it on disk
 *    (a leader that counted its own entry before writing it could break this without any crash).
 *    Checked while the membership is the initial one: across a change, the majority that committed an
 *    entry may be of the previous configuration.
 */
export class SafetyChecker<SM extends ReplicatedStateMachine> implements Omit<ReplicaObserver<SM>, 'readStates'> {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly seen = new Map<string, SeenEntry>();
  /** Entries some replica applied: committed, by definition. */
  readonly committed = new Map<number, Entry>();
  /** For each committed index, the lowest term of a replica that applied it: it was committed by then. */
  private readonly committedByTerm = new Map<number, number>();
  private readonly hashAt = new Map<number, string>();
  /** "term/role" last seen per replica, to notice a new leader. */
  private readonly lastRole = new Map<NodeId, string>();

  /** The voters when the first entry was applied: the durability check holds for that configuration. */
  private initialVoters: string | null = null;

  constructor(
    private readonly hashEvery: number,
    private readonly diskOf: (id: NodeId) => SimDisk | undefined,
  ) {}

  /** After every step: Election Safety, and Leader Completeness when a replica has just become leader. */
  checkRoles(replica: Replica<SM>): void {
    const node = replica.node;
    if (node === null) {
      this.lastRole.delete(replica.id);
      return;
    }
    const { term, role, firstIndex } = node.status();
    const key = `${term}/${role}`;
    if (this.lastRole.get(replica.id) === key) return;
    this.lastRole.set(replica.id, key);
    if (role !== 'leader') return;
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== replica.id) throw new SafetyViolation(`two leaders in term ${term}: ${other} and ${replica.id}`);
    this.leaderOfTerm.set(term, replica.id);
    for (const [index, entry] of this.committed) {
      if (index < firstIndex - 1 || this.committedByTerm.get(index)! >= term) continue;
      if (node.logTerm(index) !== entry.term) {
        throw new SafetyViolation(`new leader ${replica.id} (term ${term}) lacks committed entry ${index}/${entry.term}: it has term ${node.logTerm(index)}`);
      }
    }
  }

  persisted(replica: Replica<SM>, ready: Ready): void {
    const snapshot = ready.snapshot;
    if (snapshot !== null) {
      const committed = this.committed.get(snapshot.meta.index);
      if (committed !== undefined && committed.term !== snapshot.meta.term) {
        throw new SafetyViolation(`${replica.id} installed a snapshot at ${snapshot.meta.index}/${snapshot.meta.term}, but ${committed.term} committed there`);
      }
    }
    for (const entry of ready.entries) {
      const prevTerm = replica.disk.termAt(entry.index - 1)!;
      const key = `${entry.index}/${entry.term}`;
      const seen = this.seen.get(key);
      if (seen === undefined) {
        this.seen.set(key, { data: entry.data, prevTerm });
      } else if (seen.data !== entry.data || seen.prevTerm !== prevTerm) {
        throw new SafetyViolation(
          `log matching: ${replica.id} persisted ${key} with data ${entry.data.slice(0, 80)} after term ${prevTerm}; ` +
            `another log holds it with data ${seen.data.slice(0, 80)} after term ${seen.prevTerm}`,
        );
      }
    }
  }

  applied(replica: Replica<SM>, entry: Entry): void {
    this.checkDurableOnQuorum(replica, entry);
    const term = replica.node!.status().term;
    this.committedByTerm.set(entry.index, Math.min(term, this.committedByTerm.get(entry.index) ?? term));
    const committed = this.committed.get(entry.index);
    if (committed === undefined) this.committed.set(entry.index, entry);
    else if (committed.term !== entry.term || committed.data !== entry.data) {
      throw new SafetyViolation(`${replica.id} applied ${entry.index}/${entry.term} but ${committed.index}/${committed.term} was applied there elsewhere`);
    }
    if (entry.index % this.hashEvery === 0 || this.hashAt.has(entry.index)) this.compareHash(replica, entry.index);
  }

  private checkDurableOnQuorum(replica: Replica<SM>, entry: Entry): void {
    // Entry 1 is the bootstrap configuration each replica writes for itself, committed by definition.
    if (entry.index === 1) return;
    const voters = [...replica.node!.confState().voters].sort();
    const key = voters.join(',');
    this.initialVoters ??= key;
    if (key !== this.initialVoters) return;
    const durable = voters.filter((id) => {
      const disk = this.diskOf(id);
      return disk !== undefined && (disk.snapshotIndex() >= entry.index || disk.termAt(entry.index) === entry.term);
    });
    if (durable.length < Math.floor(voters.length / 2) + 1) {
      throw new SafetyViolation(`${replica.id} applied ${entry.index}/${entry.term} while only ${durable.join(', ') || 'no voter'} of ${key} had it on disk`);
    }
  }

  restored(replica: Replica<SM>, snapshotIndex: number): void {
    this.compareHash(replica, snapshotIndex);
  }

  private compareHash(replica: Replica<SM>, index: number): void {
    const hash = replica.stateMachine.hash();
    const expected = this.hashAt.get(index);
    if (expected === undefined) this.hashAt.set(index, hash);
    else if (expected !== hash) throw new SafetyViolation(`${replica.id} has a different state at applied index ${index}`);
  }
}
