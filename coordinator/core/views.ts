import { claimArgumentsProblem, countPoolKeys, poolExhausted } from './apply.js';
import { firstFreeKeys } from './free-keys.js';
import { countAwaitingDeposit } from './deposits.js';
import { accept, type Result } from './refusal.js';
import { KEY_STATES, type CoreState, type KeyState, type QuarantineCause, type ReadonlyCoreState } from './types.js';

/**
 * What a claim would need, or why it would be refused on its arguments alone: lets the proposer derive
 * missing keys beforehand and refuse bad requests without writing them to the log.
 */
export function planClaim(
  state: ReadonlyCoreState,
  pool: string,
  podName: string,
  count: number,
  nowMs: number,
): Result<{ missingKeys: number; nextDerivationIndex: number }> {
  const problem = claimArgumentsProblem(state, podName, pool, count);
  if (problem) return problem;
  const poolState = state.pools.get(pool)!;
  if (state.leases.has(podName)) return accept({ missingKeys: 0, nextDerivationIndex: poolState.nextDerivationIndex });
  const free = firstFreeKeys(state as CoreState, pool, nowMs, podName, count).length;
  // The pool is read whole only for a claim that free keys cannot serve.
  if (free >= count) return accept({ missingKeys: 0, nextDerivationIndex: poolState.nextDerivationIndex });
  const missing = Math.max(0, count - free - countAwaitingDeposit(state, pool, podName));
  // Refused before any key is derived: keys derived for a claim that cannot be served would be thrown away.
  const room = poolState.derive ? Math.max(0, poolState.maxKeys - countPoolKeys(state, pool)) : 0;
  if (missing > room) return poolExhausted(poolState, free, count);
  return accept({ missingKeys: missing, nextDerivationIndex: poolState.nextDerivationIndex });
}

export type KeyCounts = Record<string, Record<KeyState, number>>;

export function keyCountsByPool(state: ReadonlyCoreState): KeyCounts {
  const counts: KeyCounts = {};
  for (const pool of state.pools.keys()) counts[pool] = Object.fromEntries(KEY_STATES.map((s) => [s, 0])) as Record<KeyState, number>;
  for (const key of state.keys.values()) counts[key.pool]![key.state] += 1;
  return counts;
}

export type DepositCounts = Record<string, { awaiting: number; signed: number; confirmed: number }>;

/** Per pool, the deposits under way and done (keys that need none are not counted). */
export function depositCountsByPool(state: ReadonlyCoreState): DepositCounts {
  const counts: DepositCounts = {};
  for (const pool of state.pools.values()) if (pool.depositMode === 'submit') counts[pool.name] = { awaiting: 0, signed: 0, confirmed: 0 };
  for (const key of state.keys.values()) if (key.deposit && counts[key.pool]) counts[key.pool]![key.deposit.status] += 1;
  return counts;
}

export interface AssignmentView {
  readonly podName: string;
  readonly podUid: string | null;
  readonly pool: string;
  readonly leaseId: string;
  readonly grantedAtMs: number;
  readonly leaseTtlMs: number;
  readonly pubKeys: readonly string[];
}

export interface CoolingKeyView {
  readonly pubKey: string;
  readonly pool: string;
  readonly coolingUntilMs: number | null;
}

export interface QuarantinedKeyView {
  readonly pubKey: string;
  readonly pool: string;
  /** The pod that may still be signing with it, its uid when known, and the lease that ended. */
  readonly podName: string;
  readonly podUid: string | null;
  readonly leaseId: string;
  readonly sinceMs: number;
  readonly cause: QuarantineCause;
}

/** Public data only: pod names, pools, leases, public keys. Never a sealed secret. */
export function assignments(state: ReadonlyCoreState): { pods: AssignmentView[]; cooling: CoolingKeyView[]; quarantined: QuarantinedKeyView[] } {
  const pods = [...state.leases.values()]
    .map((l) => ({ podName: l.podName, podUid: l.podUid, pool: l.pool, leaseId: l.leaseId, grantedAtMs: l.grantedAtMs, leaseTtlMs: l.ttlMs, pubKeys: [...l.pubKeys] }))
    .sort((a, b) => (a.podName < b.podName ? -1 : 1));
  const cooling = [...state.keys.values()]
    .filter((k) => k.state === 'cooling')
    .map((k) => ({ pubKey: k.pubKey, pool: k.pool, coolingUntilMs: k.coolingUntilMs }))
    .sort((a, b) => (a.pubKey < b.pubKey ? -1 : 1));
  const quarantined = [...state.keys.values()]
    .filter((k) => k.state === 'quarantined' && k.quarantine !== null)
    .map((k) => ({ pubKey: k.pubKey, pool: k.pool, ...k.quarantine! }))
    .sort((a, b) => a.sinceMs - b.sinceMs || (a.pubKey < b.pubKey ? -1 : 1));
  return { pods, cooling, quarantined };
}
