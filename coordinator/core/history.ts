import type { AssignmentEnd, AssignmentRecord, CoreState, Lease } from './types.js';

/** Opens one record per key of a new lease. */
export function recordAssignment(state: CoreState, lease: Lease, nowMs: number): void {
  state.history.set(
    lease.leaseId,
    lease.pubKeys.map((pubKey) => ({ pubKey, podName: lease.podName, leaseId: lease.leaseId, pool: lease.pool, fromMs: nowMs, toMs: null, end: null })),
  );
}

/**
 * Closes the records of an ending lease, then drops the oldest leases' records once they ended longer
 * than the pool's retention ago. Pruning happens here, on a command, so every replica drops the same
 * records; it stops at the first lease to keep, so a long-lived lease may hold back later ones a while.
 */
export function closeAssignment(state: CoreState, lease: Lease, end: AssignmentEnd, nowMs: number, retentionMs: number): void {
  const records = state.history.get(lease.leaseId);
  if (records) state.history.set(lease.leaseId, records.map((r) => ({ ...r, toMs: nowMs, end })));
  for (const [leaseId, oldest] of state.history) {
    const first = oldest[0];
    if (first && (first.toMs === null || first.toMs > nowMs - retentionMs)) break;
    state.history.delete(leaseId);
  }
}

export interface HistoryQuery {
  readonly pubKey?: string;
  readonly podName?: string;
  /** Only assignments that covered this instant. */
  readonly atMs?: number;
}

export function assignmentHistory(history: ReadonlyMap<string, readonly AssignmentRecord[]>, query: HistoryQuery): AssignmentRecord[] {
  return [...history.values()].flat().filter(
    (r) =>
      (query.pubKey === undefined || r.pubKey === query.pubKey) &&
      (query.podName === undefined || r.podName === query.podName) &&
      (query.atMs === undefined || (r.fromMs <= query.atMs && (r.toMs === null || query.atMs < r.toMs))),
  );
}
