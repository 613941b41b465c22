import { createHash } from 'node:crypto';
import { heldSealedSecret, sealedSecretText } from './sealed-secret.js';
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

/**
 * A copy of the state as plain data. Canonical (sorted by name) unless `canonical` is false: a replica's
 * own snapshot needs no canonical order (the core never depends on the order of its tables, since a
 * replica restored from a snapshot and one that replayed the log hold them in different orders), and
 * sorting 100,000 public keys costs a blocked event loop at every compaction. With `secrets` 'held', the
 * keys' sealed secrets stay in the form the core holds them (immutable strings), for `snapshotText` to
 * turn into text a part at a time: turning 100,000 of them at once blocked the loop, and the garbage
 * (a hundred megabytes of base64) brought long collections after it.
 */
export function takeSnapshot(state: ReadonlyCoreState, canonical = true, secrets: 'text' | 'held' = 'text'): CoreSnapshot {
  // Map keys are the names sorted by (pubKey, podName, pool name): a plain sort of strings orders them
  // as comparing the names would, without a comparator call per comparison.
  const sortedValues = <T>(map: ReadonlyMap<string, T>) => (canonical ? [...map.keys()].sort().map((name) => map.get(name)!) : [...map.values()]);
  return {
    format: SNAPSHOT_FORMAT,
    leaseSequence: state.leaseSequence,
    pools: sortedValues(state.pools).map((p) => ({ ...p })),
    keys: sortedValues(state.keys).map((k) => (secrets === 'held' ? { ...k } : { ...k, sealedSecret: sealedSecretText(k.sealedSecret) })),
    leases: sortedValues(state.leases).map((l) => ({ ...l, pubKeys: [...l.pubKeys] })),
    // In log order, as kept: forgetting the oldest first depends on it, on every replica alike.
    recentRequests: [...state.recentRequests.entries()].map(([requestId, r]) => ({ requestId, ...r })),
    // Kept in grant order: it is a history, and pruning relies on it.
    history: [...state.history.values()].flat().map((r) => ({ ...r })),
  };
}

export class SnapshotError extends Error {}

/** The snapshot as text: a header line, then one JSON record a line (keys, leases, requests, history). */
export const SNAPSHOT_TEXT_FORMAT = 'keylease-core-v3';

interface SnapshotTextHeader {
  readonly format: typeof SNAPSHOT_TEXT_FORMAT;
  readonly leaseSequence: number;
  readonly pools: readonly Pool[];
  readonly counts: { readonly keys: number; readonly leases: number; readonly recentRequests: number; readonly history: number };
}

/**
 * The snapshot's text in parts of about `partChars` characters, each ending at a line's end: a large
 * state is written, stored and sent without one string of all of it, and the caller may yield to the
 * event loop between parts (the snapshot is a copy, so the state may change meanwhile). `secrets`: as the
 * copy was taken with.
 */
export function* snapshotText(snapshot: CoreSnapshot, partChars = 1 << 20, secrets: 'text' | 'held' = 'text'): Generator<string> {
  const header: SnapshotTextHeader = {
    format: SNAPSHOT_TEXT_FORMAT,
    leaseSequence: snapshot.leaseSequence,
    pools: snapshot.pools,
    counts: { keys: snapshot.keys.length, leases: snapshot.leases.length, recentRequests: snapshot.recentRequests.length, history: snapshot.history.length },
  };
  let lines: string[] = [JSON.stringify(header)];
  let chars = lines[0]!.length;
  const asText = secrets === 'held' ? (key: PoolKey) => ({ ...key, sealedSecret: sealedSecretText(key.sealedSecret) }) : (key: PoolKey) => key;
  for (const records of [snapshot.keys, snapshot.leases, snapshot.recentRequests, snapshot.history] as const) {
    for (const record of records) {
      const line = JSON.stringify(records === snapshot.keys ? asText(record as PoolKey) : record);
      lines.push(line);
      chars += line.length + 1;
      if (chars >= partChars) {
        yield lines.join('\n') + '\n';
        lines = [];
        chars = 0;
      }
    }
  }
  if (lines.length > 0) yield lines.join('\n') + '\n';
}

/** The state from a snapshot's text, read part by part (a line may span parts); also takes the older single-JSON form. */
/** The state from a snapshot's text, read part by part (a line may span parts); also takes the older single-JSON form. */
export function restoreSnapshotText(parts: Iterable<string>): CoreState {
  let carry = '';
  let header: SnapshotTextHeader | null = null;
  let legacy: string[] | null = null;
  let state: CoreState | null = null;
  let line = 0;
  const take = (text: string) => {
    if (header === null) {
      const parsed = JSON.parse(text) as SnapshotTextHeader | CoreSnapshot;
      if (parsed.format !== SNAPSHOT_TEXT_FORMAT) throw new SnapshotError(`snapshot text format ${JSON.stringify(parsed.format)} is not ${SNAPSHOT_TEXT_FORMAT}`);
      header = parsed;
      state = restoreSnapshot({ format: SNAPSHOT_FORMAT, leaseSequence: header.leaseSequence, pools: header.pools, keys: [], leases: [], recentRequests: [], history: [] });
      return;
    }
    const { keys, leases, recentRequests } = header.counts;
    const record = JSON.parse(text) as unknown;
    if (line < keys) restoreKey(state!, record as PoolKey);
    else if (line < keys + leases) restoreLease(state!, record as Lease);
    else if (line < keys + leases + recentRequests) restoreRequest(state!, record as RememberedRequest & { requestId: string });
    else restoreHistory(state!, record as AssignmentRecord);
    line++;
  };
  for (const part of parts) {
    if (legacy) {
      legacy.push(part);
      continue;
    }
    let from = 0;
    for (let end = part.indexOf('\n'); end !== -1; end = part.indexOf('\n', from)) {
      const text = carry + part.slice(from, end);
      carry = '';
      from = end + 1;
      take(text);
    }
    carry += part.slice(from);
    // The older form is one JSON object without a line break: it is read whole.
    if (header === null && carry.startsWith(`{"format":"${SNAPSHOT_FORMAT}"`)) {
      legacy = [carry];
      carry = '';
    }
  }
  if (legacy) return restoreSnapshot(JSON.parse(legacy.join('')) as CoreSnapshot);
  if (carry !== '') take(carry);
  if (header === null || state === null) throw new SnapshotError('snapshot text is empty');
  const expected = Object.values((header as SnapshotTextHeader).counts).reduce((a, b) => a + b, 0);
  if (line !== expected) throw new SnapshotError(`snapshot text holds ${line} records, its header says ${expected}`);
  return state;
}

export function restoreSnapshot(snapshot: CoreSnapshot): CoreState {
  if (snapshot?.format !== SNAPSHOT_FORMAT) {
    throw new SnapshotError(`snapshot format ${JSON.stringify(snapshot?.format)} is not ${SNAPSHOT_FORMAT}`);
  }
  const state = createEmptyState();
  state.leaseSequence = snapshot.leaseSequence;
  for (const pool of snapshot.pools) state.pools.set(pool.name, { ...pool });
  for (const key of snapshot.keys) restoreKey(state, key);
  for (const lease of snapshot.leases) restoreLease(state, lease);
  for (const request of snapshot.recentRequests ?? []) restoreRequest(state, request);
  for (const record of snapshot.history ?? []) restoreHistory(state, record);
  return state;
}

// Snapshots written before quarantine (S7) and clock watermarks (S8) lack their fields.
function restoreKey(state: CoreState, key: PoolKey): void {
  state.keys.set(key.pubKey, { ...key, sealedSecret: heldSealedSecret(key.sealedSecret), quarantine: key.quarantine ?? null, clockWatermarksDue: key.clockWatermarksDue ?? false });
}

// Snapshots written before pod uids were recorded have none: such leases accept any pod of their name.
// Those written before signing modes count as unknown: their ends are unproven.
function restoreLease(state: CoreState, lease: Lease): void {
  state.leases.set(lease.podName, { ...lease, podUid: lease.podUid ?? null, signingMode: lease.signingMode ?? 'unknown', pubKeys: [...lease.pubKeys] });
}

function restoreRequest(state: CoreState, { requestId, ...remembered }: RememberedRequest & { requestId: string }): void {
  state.recentRequests.set(requestId, remembered);
}

function restoreHistory(state: CoreState, record: AssignmentRecord): void {
  const records = state.history.get(record.leaseId) ?? [];
  records.push({ ...record });
  state.history.set(record.leaseId, records);
}

/** A digest of the canonical snapshot: replicas with equal hashes hold equal states. */
export function stateHash(state: ReadonlyCoreState): string {
  return createHash('sha256').update(JSON.stringify(takeSnapshot(state))).digest('hex');
}
