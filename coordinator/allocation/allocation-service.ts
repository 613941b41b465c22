import { accept, refuse, planClaim, type Lease, type Result } from '../core/index.js';
import type { OpenedPoolKey } from '../keys/pool-key.js';
import type { PoolSecrets } from '../keys/pool-secrets.js';
import type { LeaseKeeper } from '../leases/lease-keeper.js';
import type { ReplicatedLog } from '../replication/types.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { NotLeaderError } from '../replication/errors.js';

export interface ClaimGrant {
  readonly lease: Lease;
  readonly keys: readonly OpenedPoolKey[];
  readonly existing: boolean;
}

export interface AllocationObserver {
  onClaim?(pool: string, derived: number, existing: boolean): void;
  onRelease?(pool: string): void;
  onRefusal?(operation: 'claim' | 'renew' | 'release', code: string): void;
}

/** Attempts at a claim that raced another claim for the same derivation indices. */
const MAX_CLAIM_ATTEMPTS = 5;

/**
 * What the agent API does, above the replicated log: claim (deriving keys first when the pool is short,
 * so they are committed before they are handed out), renew (leader memory only) and release.
 */
export class AllocationService {
  /** One derivation at a time per pool, so concurrent short claims do not derive the same indices. */
  private readonly derivationLocks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly log: ReplicatedLog,
    private readonly secrets: PoolSecrets,
    private readonly leases: LeaseKeeper,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly observer: AllocationObserver = {},
  ) {}

  async claim(podName: string, pool: string, count: number): Promise<Result<ClaimGrant>> {
    const result = await this.claimOnce(podName, pool, count);
    if (!result.ok) this.observer.onRefusal?.('claim', result.refusal.code);
    return result;
  }

  private async claimOnce(podName: string, pool: string, count: number): Promise<Result<ClaimGrant>> {
    this.requireLeader();
    for (let attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
      const nowMs = this.clock.wallMs();
      // Planning needs no quorum round: the core checks the claim again when it applies.
      const plan = this.log.peek((state) => planClaim(state, pool, podName, count, nowMs));
      if (!plan.ok) return plan; // bad arguments never reach the log
      const result =
        plan.value.missingKeys > 0 && this.secrets.canDerive(pool)
          ? await this.withDerivationLock(pool, () => this.deriveAndClaim(podName, pool, count))
          : await this.log.propose({ type: 'Claim', nowMs, podName, pool, count, derivedKeys: [] });
      if (!result.ok) {
        if (result.refusal.code === 'NEEDS_KEYS' || result.refusal.code === 'DERIVATION_INDEX_MISMATCH') continue;
        return result;
      }
      const { lease, keys, existing, derivedCount } = result.value;
      this.observer.onClaim?.(pool, derivedCount, existing);
      this.logger.info(existing ? 'claim repeated: same lease returned' : 'keys claimed', { podName, pool, leaseId: lease.leaseId, keys: lease.pubKeys.length, derived: derivedCount });
      return accept({ lease, existing, keys: keys.map((key) => this.secrets.open(key)) });
    }
    return refuse('POOL_EXHAUSTED', `pool ${pool} is being claimed from faster than keys can be derived: retry the claim`);
  }

  /** Re-plans under the lock (another claim may have derived meanwhile), derives, and proposes. */
  private async deriveAndClaim(podName: string, pool: string, count: number) {
    const nowMs = this.clock.wallMs();
    const plan = this.log.peek((state) => planClaim(state, pool, podName, count, nowMs));
    if (!plan.ok) return plan;
    let lastLogged = 0;
    const derivedKeys = await this.secrets.deriveKeys(pool, plan.value.nextDerivationIndex, plan.value.missingKeys, (done, total) => {
      if (total >= 10 && (done === total || this.clock.monotonicMs() - lastLogged > 1000)) {
        lastLogged = this.clock.monotonicMs();
        this.logger.info('deriving keys', { pool, done, total });
      }
    });
    return this.log.propose({ type: 'Claim', nowMs: this.clock.wallMs(), podName, pool, count, derivedKeys });
  }

  renew(podName: string, leaseId: string): Result<{ ttlMs: number }> {
    this.requireLeader();
    const result = this.leases.renew(podName, leaseId);
    if (!result.ok) this.observer.onRefusal?.('renew', result.refusal.code);
    return result;
  }

  async release(podName: string, leaseId: string, requestId = ''): Promise<Result<{ lease: Lease }>> {
    this.requireLeader();
    const result = await this.log.propose({ type: 'Release', nowMs: this.clock.wallMs(), podName, leaseId, ...(requestId ? { requestId } : {}) });
    if (!result.ok) {
      this.observer.onRefusal?.('release', result.refusal.code);
      return result;
    }
    this.observer.onRelease?.(result.value.lease.pool);
    this.logger.info('keys released', { podName, leaseId, keys: result.value.lease.pubKeys.length });
    return result;
  }

  private requireLeader(): void {
    if (!this.log.isLeader()) throw new NotLeaderError(null);
  }

  private async withDerivationLock<T>(pool: string, work: () => Promise<T>): Promise<T> {
    const previous = this.derivationLocks.get(pool) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(work);
    this.derivationLocks.set(pool, run);
    try {
      return await run;
    } finally {
      if (this.derivationLocks.get(pool) === run) this.derivationLocks.delete(pool);
    }
  }
}
