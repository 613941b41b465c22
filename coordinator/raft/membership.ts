import { RaftInvariantError, type ConfChange, type ConfState, type Entry, type NodeId } from './types.js';

/** One configuration: who votes (and so forms quorums) and who only follows the log. */
export class Membership {
  readonly voters: ReadonlySet<NodeId>;
  readonly learners: ReadonlySet<NodeId>;

  constructor(conf: ConfState) {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners);
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  members(): NodeId[] {
    return [...this.voters, ...this.learners];
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** Whether the voters among `ids` form a quorum. */
  hasQuorum(ids: Iterable<NodeId>): boolean {
    let count = 0;
    for (const id of ids) if (this.voters.has(id)) count++;
    return count >= this.quorum();
  }

  /** The highest index that a quorum of voters has: the ⌈n/2⌉-th largest match index. */
  quorumIndex(matchOf: (id: NodeId) => number): number {
    const matches = [...this.voters].map(matchOf).sort((a, b) => b - a);
    return matches[this.quorum() - 1] ?? 0;
  }

  /** An election's outcome once `votes` (voter → granted) are in. */
  voteResult(votes: ReadonlyMap<NodeId, boolean>): 'won' | 'lost' | 'pending' {
    let granted = 0;
    let rejected = 0;
    for (const [id, grant] of votes) {
      if (!this.voters.has(id)) continue;
      if (grant) granted++;
      else rejected++;
    }
    if (granted >= this.quorum()) return 'won';
    if (rejected > this.voters.size - this.quorum()) return 'lost';
    return 'pending';
  }

  toConfState(): ConfState {
    return { voters: [...this.voters].sort(), learners: [...this.learners].sort() };
  }

  /** The configuration after a single-server change, or why the change makes no sense here. */
  apply(change: ConfChange): ConfState | string {
    const { voters, learners } = this.toConfState();
    const id = change.nodeId;
    switch (change.type) {
      case 'addLearner':
        if (this.voters.has(id) || this.learners.has(id)) return `${id} is already a member`;
        return { voters, learners: [...learners, id].sort() };
      case 'promoteLearner':
        if (!this.learners.has(id)) return `${id} is not a learner`;
        return { voters: [...voters, id].sort(), learners: learners.filter((l) => l !== id) };
      case 'removeNode':
        if (!this.voters.has(id) && !this.learners.has(id)) return `${id} is not a member`;
        if (this.voters.has(id) && this.voters.size === 1) return `${id} is the last voter`;
        return { voters: voters.filter((v) => v !== id), learners: learners.filter((l) => l !== id) };
    }
  }
}

/**
 * A confChange entry carries the whole resulting configuration, not just the delta, so the
 * configuration at any index is simply the latest such entry at or before it.
 */
interface ConfChangeRecord {
  /** Null for the bootstrap configuration (entry 1 of a new cluster). */
  readonly change: ConfChange | null;
  readonly confState: ConfState;
}

export const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };

export function encodeConfChange(change: ConfChange | null, confState: ConfState): string {
  const record: ConfChangeRecord = { change, confState };
  return JSON.stringify(record);
}

export function decodeConfChange(data: string): ConfChangeRecord {
  const record = JSON.parse(data) as ConfChangeRecord;
  if (!Array.isArray(record?.confState?.voters) || !Array.isArray(record.confState.learners)) {
    throw new RaftInvariantError(`confChange entry does not hold a configuration: ${data.slice(0, 200)}`);
  }
  return record;
}

/**
 * The configuration in force at each point of the log. A change takes effect as soon as its entry is
 * in a node's log, committed or not (dissertation §4.1, single-server changes); if a new leader
 * overwrites the entry, the node falls back to the configuration before it. Hence we keep the base
 * (from the snapshot; empty before entry 1) plus every change still in the log.
 */
export class MembershipHistory {
  private baseIndex: number;
  private base: ConfState;
  /** Changes in the log after the base, in log order. */
  private changes: { index: number; conf: ConfState }[] = [];
  private currentMembership: Membership;

  constructor(baseIndex: number, base: ConfState, entries: readonly Entry[]) {
    this.baseIndex = baseIndex;
    this.base = base;
    this.currentMembership = new Membership(base);
    this.replaceFrom(baseIndex + 1, entries);
  }

  current(): Membership {
    return this.currentMembership;
  }

  /** Index of the newest change in the log, or 0: a change is pending while this is above the commit. */
  lastChangeIndex(): number {
    return this.changes.at(-1)?.index ?? 0;
  }

  /** The configuration as of `index` (for a snapshot taken there). */
  at(index: number): ConfState {
    if (index < this.baseIndex) throw new RaftInvariantError(`configuration at ${index} precedes the snapshot at ${this.baseIndex}`);
    return this.changes.filter((c) => c.index <= index).at(-1)?.conf ?? this.base;
  }

  /** The log changed from `from` on and now holds `entries` there. */
  replaceFrom(from: number, entries: readonly Entry[]): void {
    this.changes = this.changes.filter((c) => c.index < from);
    for (const entry of entries) {
      if (entry.type === 'confChange') this.changes.push({ index: entry.index, conf: decodeConfChange(entry.data).confState });
    }
    this.currentMembership = new Membership(this.changes.at(-1)?.conf ?? this.base);
  }

  compactTo(index: number): void {
    this.base = this.at(index);
    this.baseIndex = index;
    this.changes = this.changes.filter((c) => c.index > index);
  }

  restore(index: number, conf: ConfState): void {
    this.baseIndex = index;
    this.base = conf;
    this.changes = [];
    this.currentMembership = new Membership(conf);
  }
}
