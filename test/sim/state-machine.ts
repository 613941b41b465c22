import {
  applyCommand,
  createEmptyState,
  restoreSnapshotText,
  snapshotText,
  stateHash,
  takeSnapshot,
  type Command,
  type CommandResult,
  type CoreState,
} from '../../coordinator/core/index.js';
import { PartedText, partsOf, type SnapshotData } from '../../coordinator/raft/snapshot-data.js';
import type { Entry } from '../../coordinator/raft/types.js';

/** What a simulated replica applies committed entries to. */
export interface ReplicatedStateMachine {
  /** Applies a committed entry; returns what a client would be answered. */
  apply(entry: Entry): unknown;
  snapshot(): SnapshotData;
  restore(data: SnapshotData): void;
  hash(): string;
}

/** The project's real allocation core: entry data is a JSON command; Raft's own entries change nothing. */
export class CoreStateMachine implements ReplicatedStateMachine {
  state: CoreState = createEmptyState();

  apply(entry: Entry): CommandResult | null {
    if (entry.type !== 'normal') return null;
    return applyCommand(this.state, JSON.parse(entry.data) as Command);
  }

  /** In small parts, as the coordinator writes large ones: transfers and restores cross part boundaries. */
  snapshot(): SnapshotData {
    return new PartedText([...snapshotText(takeSnapshot(this.state), 256)]);
  }

  restore(data: SnapshotData): void {
    this.state = restoreSnapshotText(partsOf(data));
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

  restore(data: SnapshotData): void {
    this.applied = JSON.parse([...partsOf(data)].join('')) as string[];
  }

  hash(): string {
    return JSON.stringify(this.applied);
  }
}
