import { assignments, depositCountsByPool, keyCountsByPool, type DepositCounts, type KeyCounts, type PodRef, type QuarantinedKeyView, type ReadonlyCoreState } from '../core/index.js';

/** Whether the figures were confirmed by the leader, or are a follower's applied state (possibly a moment behind). */
export type ReadFrom = 'leader' | 'follower';

export interface AssignmentsDocument {
  readonly generatedAtMs: number;
  readonly readFrom: ReadFrom;
  readonly pools: KeyCounts;
  /** Pools that make their own deposits: how many are awaiting signature, signed (broadcast) and confirmed. */
  readonly deposits: DepositCounts;
  readonly pods: ReadonlyArray<{
    podName: string;
    /** The claiming pod's uid, when it proved its identity. */
    podUid: string | null;
    pool: string;
    leaseId: string;
    grantedAtMs: number;
    leaseTtlMs: number;
    /** As this leader will enforce it; null on a replica that does not track leases. */
    leaseExpiresAtMs: number | null;
    /** The pod is gone from the Kubernetes API while its lease lives on (its agent may still run). */
    orphaned: boolean;
    pubKeys: readonly string[];
  }>;
  readonly cooling: ReadonlyArray<{ pubKey: string; pool: string; coolingUntilMs: number | null }>;
  /** Keys whose last holder may still be signing: they wait for proof, the pod's end, or an operator. */
  readonly quarantined: readonly QuarantinedKeyView[];
}

/** Public data only: pod names, pools, lease ids and times, public keys. */
export function buildAssignments(state: ReadonlyCoreState, readFrom: ReadFrom, nowMs: number, leaseExpiry: (podName: string) => number | null, orphaned: (pod: PodRef) => boolean): AssignmentsDocument {
  const view = assignments(state);
  return {
    generatedAtMs: nowMs,
    readFrom,
    pools: keyCountsByPool(state),
    deposits: depositCountsByPool(state),
    pods: view.pods.map((p) => ({ ...p, leaseExpiresAtMs: leaseExpiry(p.podName), orphaned: orphaned(p) })),
    cooling: view.cooling,
    quarantined: view.quarantined,
  };
}

/** JSON for machines: times as ISO strings as well as milliseconds. */
export function assignmentsJson(doc: AssignmentsDocument): unknown {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    generatedAt: iso(doc.generatedAtMs),
    readFrom: doc.readFrom,
    pools: doc.pools,
    deposits: doc.deposits,
    pods: doc.pods.map((p) => ({ ...p, grantedAt: iso(p.grantedAtMs), leaseExpiresAt: iso(p.leaseExpiresAtMs) })),
    cooling: doc.cooling.map((k) => ({ ...k, coolingUntil: iso(k.coolingUntilMs) })),
    quarantined: doc.quarantined.map((k) => ({ ...k, since: iso(k.sinceMs) })),
  };
}
