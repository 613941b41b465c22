import {
  applyCommand,
  createEmptyState,
  restoreSnapshot,
  stateHash,
  takeSnapshot,
  type Command,
  type CommandResult,
  type CoreSnapshot,
  type CoreState,
} from '../../coordinator/core/index.js';
import type { Entry } from '../../coordinator/raft/types.js';

/** What a simulated replica applies committed entries to. */
export interface ReplicatedStateMachine {
  /** Applies a committed entry; returns what a client would be answered. */
  apply(entry: Entry): unknown;
  snapshot(): string;
  restore(data: string): void;
  hash(): string;
}

/** The project's real allocation core: entry data is a JSON command; Raft's own entries change nothing. */
export class CoreStateMachine implements ReplicatedStateMachine {
  state: CoreState = createEmptyState();

  apply(entry: Entry): CommandResult | null {
    if (entry.type !== 'normal') return null;
    return applyCommand(this.state, JSON.parse(entry.data) as Command);
  }

  snapshot(): string {
    return JSON.stringify(takeSnapshot(this.state));
  }

  restore(data: string): void {
    this.state = restoreSnapshot(JSON.parse(data) as CoreSnapshot);
  }

  hash(): string {
    return stateHash(this.state);
  }

  /** S1 in the core's own terms: every held key belongs to exactly one live lease of its holder. */
  keyHolderViolation(): string | null {
    const { keys, leases } = this.state;
    const leaseOf = new Map<string, string>();
    for (const lease of leases.values()) {
      for (const pubKey of lease.pubKeys) {
        const other = leaseOf.get(pubKey);
        if (other !== undefined) return `key ${pubKey} is in leases ${other} and ${lease.leaseId}`;
        leaseOf.set(pubKey, lease.leaseId);
        const key = keys.get(pubKey);
        if (key === undefined || key.state !== 'allocated' || key.holderPod !== lease.podName || key.leaseId !== lease.leaseId) {
          return `key ${pubKey} of lease ${lease.leaseId} (pod ${lease.podName}) is ${key ? `${key.state}, held by ${key.holderPod}` : 'missing'}`;
        }
      }
    }
    for (const key of keys.values()) {
      if (key.state === 'allocated' && leaseOf.get(key.pubKey) !== key.leaseId) {
        return `key ${key.pubKey} is allocated to ${key.holderPod} under ${key.leaseId}, which does not hold it`;
      }
    }
    return null;
  }
}

/** For scenario tests: remembers the data of every applied normal entry, in order. */
export class EntryListStateMachine implements ReplicatedStateMachine {
  applied: string[] = [];

  apply(entry: Entry): number | null {
    if (entry.type !== 'normal') return null;
    this.applied.push(entry.data);
    return this.applied.length;
  }

  snapshot(): string {
    return JSON.stringify(this.applied);
  }

  restore(data: string): void {
    this.applied = JSON.parse(data) as string[];
  }

  hash(): string {
    return JSON.stringify(this.applied);
  }
}
