import type { Command, ReadonlyCoreState } from '../../coordinator/core/index.js';
import { intBetween, pick } from '../support/prng.js';

export const POOL = 'p';
const PODS = ['pod-0', 'pod-1', 'pod-2', 'pod-3', 'pod-4', 'pod-5'];
const MAX_KEYS = 40;

/**
 * Allocation commands as the coordinator's API layer would propose them, chosen against the state the
 * proposing leader has applied (as the real leader does). Some will be refused when applied (a lease
 * released twice, a pod that already holds one): refusals are results too, and must match everywhere.
 */
export class Workload {
  private nextKey = 0;

  constructor(private readonly random: () => number) {}

  next(nowMs: number, state: ReadonlyCoreState): Command {
    if (!state.pools.has(POOL)) {
      return { type: 'ConfigurePool', nowMs, pool: POOL, settings: { derive: false, maxKeys: MAX_KEYS, maxKeysPerClaim: 4, coolingMs: 50, leaseTtlMs: 10_000, genesisValidatorsRoot: '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95', historyRetentionMs: 60_000, depositMode: 'none' } };
    }
    const leases = [...state.leases.values()];
    const roll = this.random();
    if ((roll < 0.15 || state.keys.size < 4) && this.nextKey < MAX_KEYS) return this.importKeys(nowMs);
    if (roll < 0.5) return { type: 'Claim', nowMs, podName: pick(this.random, PODS), pool: POOL, count: intBetween(this.random, 1, 3), derivedKeys: [] };
    if (roll < 0.75 && leases.length > 0) {
      const lease = pick(this.random, leases);
      return { type: 'Release', nowMs, podName: lease.podName, leaseId: lease.leaseId };
    }
    if (roll < 0.88 && leases.length > 0) {
      const lease = pick(this.random, leases);
      return { type: 'ExpireLease', nowMs, podName: lease.podName, leaseId: lease.leaseId };
    }
    return { type: 'FinishCooling', nowMs };
  }

  private importKeys(nowMs: number): Command {
    const keys = Array.from({ length: 4 }, () => {
      const n = this.nextKey++;
      return { pubKey: '0x' + n.toString(16).padStart(96, '0'), path: `m/12381/3600/${n}/0/0`, sealedSecret: `sealed-${n}` };
    });
    return { type: 'ImportKeys', nowMs, pool: POOL, keys };
  }
}
