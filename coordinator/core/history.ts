import type { AssignmentEnd, AssignmentRecord, CoreState, Lease } from './types.js';

/** Opens one record per key of a new lease. */
export function recordAssignment(state: CoreState, lease: Lease, nowMs: number): void {
  for (const pubKey of lease.pubKeys) {
    state.history.push({ pubKey, podName: lease.podName, leaseId: lease.leaseId, pool: lease.pool, fromMs: nowMs, toMs: null, end: null });
  }
}

/**
 * Closes the records of an ending lease, then drops closed records older than the pool's retention.
 * Pruning happens here, on a command, so every replica drops the same records.
 */
export function closeAssignment(state: CoreState, lease: Lease, end: AssignmentEnd, nowMs: number, retentionMs: number): void {
  for (const [i, record] of state.history.entries()) {
    if (record.leaseId === lease.leaseId && record.toMs === null) state.history[i] = { ...record, toMs: nowMs, end };
  }
  const keep = state.history.filter((r) => r.toMs === null || r.pool !== lease.pool || r.toMs > nowMs - retentionMs);
  state.history.splice(0, state.history.length, ...keep);
}

export interface HistoryQuery {
  readonly pubKey?: string;
  readonly podName?: string;
  /** Only assignments that covered this instant. */
  readonly atMs?: number;
}

export function assignmentHistory(history: readonly AssignmentRecord[], query: HistoryQuery): AssignmentRecord[] {
  return history.filter(
    (r) =>
      (query.pubKey === undefined || r.pubKey === query.pubKey) &&
      (query.podName === undefined || r.podName === query.podName) &&
      (query.atMs === undefined || (r.fromMs <= query.atMs && (r.toMs === null || query.atMs < r.toMs))),
  );
}
