import { createHash } from 'node:crypto';
import type { AssignmentRecord, CoreState, Lease, Pool, PoolKey, ReadonlyCoreState, RememberedRequest } from './types.js';

export const SNAPSHOT_FORMAT = 'keylease-core-v2';

/** The whole state as plain JSON-able data, in a canonical order so equal states give equal bytes. */
export interface CoreSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly leaseSequence: number;
  readonly pools: readonly Pool[];
  readonly keys: readonly PoolKey[];
  readonly leases: readonly Lease[];
  readonly recentRequests: ReadonlyArray<RememberedRequest & { requestId: string }>;
  readonly history: readonly AssignmentRecord[];
}

export function createEmptyState(): CoreState {
  return { pools: new Map(), keys: new Map(), leases: new Map(), leaseSequence: 0, recentRequests: new Map(), history: new Map() };
}

const byName = <T>(pick: (v: T) => string) => (a: T, b: T) => (pick(a) < pick(b) ? -1 : pick(a) > pick(b) ? 1 : 0);

export function takeSnapshot(state: ReadonlyCoreState): CoreSnapshot {
  return {
    format: SNAPSHOT_FORMAT,
    leaseSequence: state.leaseSequence,
    pools: [...state.pools.values()].map((p) => ({ ...p })).sort(byName((p) => p.name)),
    keys: [...state.keys.values()].map((k) => ({ ...k })).sort(byName((k) => k.pubKey)),
    leases: [...state.leases.values()].map((l) => ({ ...l, pubKeys: [...l.pubKeys] })).sort(byName((l) => l.podName)),
    // In log order, as kept: forgetting the oldest first depends on it, on every replica alike.
    recentRequests: [...state.recentRequests.entries()].map(([requestId, r]) => ({ requestId, ...r })),
    // Kept in grant order: it is a history, and pruning relies on it.
    history: [...state.history.values()].flat().map((r) => ({ ...r })),
  };
}

export class SnapshotError extends Error {}

export function restoreSnapshot(snapshot: CoreSnapshot): CoreState {
  if (snapshot?.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(`snapshot format ${JSON.stringify(snapshot?.format)} is not ${SNAPSHOT_FORMAT}`);
  }
  const state = createEmptyState();
  state.leaseSequence = snapshot.leaseSequence;
  for (const pool of snapshot.pools) state.pools.set(pool.name, { ...pool });
  // Snapshots written before quarantine (S7) and clock watermarks (S8) lack their fields.
  for (const key of snapshot.keys) state.keys.set(key.pubKey, { ...key, quarantine: key.quarantine ?? null, clockWatermarksDue: key.clockWatermarksDue ?? false });
  // Snapshots written before pod uids were recorded have none: such leases accept any pod of their name.
  // Those written before signing modes count as unknown: their ends are unproven.
  for (const lease of snapshot.leases) state.leases.set(lease.podName, { ...lease, podUid: lease.podUid ?? null, signingMode: lease.signingMode ?? 'unknown', pubKeys: [...lease.pubKeys] });
  for (const { requestId, ...remembered } of snapshot.recentRequests ?? []) state.recentRequests.set(requestId, remembered);
  for (const record of snapshot.history ?? []) {
    const records = state.history.get(record.leaseId) ?? [];
    records.push({ ...record });
    state.history.set(record.leaseId, records);
  }
  return state;
}

/** A digest of the canonical snapshot: replicas with equal hashes hold equal states. */
export function stateHash(state: ReadonlyCoreState): string {
  return createHash('sha256').update(JSON.stringify(takeSnapshot(state))).digest('hex');
}
