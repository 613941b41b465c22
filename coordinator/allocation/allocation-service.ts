import { accept, refuse, planClaim, type DerivedPoolKey, type KeyProtection, type Lease, type PodRef, type Result, type SigningMode } from '../core/index.js';
import { checkInterchangeFor, parseInterchange, SlashingProtectionError } from '../../shared/eth/slashing-protection/index.js';
import { interchangeOf, protectionOf } from './protection-interchange.js';
import type { OpenedPoolKey } from '../keys/pool-key.js';
import type { PoolSecrets } from '../keys/pool-secrets.js';
import type { LeaseKeeper } from '../leases/lease-keeper.js';
import type { ReplicatedLog } from '../replication/types.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { NotLeaderError } from '../replication/errors.js';
import { PoolNotReadyError } from './errors.js';
import { ClaimAdmission } from './claim-admission.js';

export interface ClaimGrant {
  readonly lease: Lease;
  /** The pool's network, for a remote-signer agent: genesis validators root and genesis fork version. */
  readonly genesisValidatorsRoot: string;
  readonly genesisForkVersion: string;
  /** Each key opened, with its slashing protection as an EIP-3076 interchange. */
  readonly keys: ReadonlyArray<OpenedPoolKey & { readonly slashingProtection: string }>;
  readonly existing: boolean;
}

export interface ReleaseOptions {
  /** Kept across the agent's retries of one release, so it applies once. */
  readonly requestId?: string;
  /** The EIP-3076 interchange the validator client returned for the lease's keys. */
  readonly slashingProtection?: string;
  readonly reason?: 'released' | 'fenced';
}

export interface AllocationObserver {
  onClaim?(pool: string, derived: number, existing: boolean): void;
  onRelease?(pool: string): void;
  onRefusal?(operation: 'claim' | 'renew' | 'release', code: string): void;
}

export interface AllocationOptions {
  readonly observer?: AllocationObserver;
  /** Called with keys derived and committed by a claim (export mode writes their deposit data). */
  readonly onKeysDerived?: ((pool: string, keys: readonly DerivedPoolKey[]) => Promise<unknown>) | null;
  /** The network's genesis fork version (0x + 8 hex), told to remote-signer agents with each grant. */
  readonly genesisForkVersion?: string;
  /** Awaited before keys are derived: the leader's restore scan, so no index is handed out before it is looked up on chain. */
  readonly beforeDerive?: ((pool: string) => Promise<void>) | null;
  /** Keys claimed at once; more claims wait, then are refused unstarted (ClaimsBusyError). */
  readonly admission?: ClaimAdmission;
  /** The pool this coordinator's flags configure: unknown to the state, it is about to be created. */
  readonly configuredPool?: string | null;
  /**
   * The leader's setup of the configured pool (ConfigurePool, proposed once it leads), when one is under
   * way: a claim that arrives first waits for it instead of being turned away. Without one, or when the
   * pool is still unknown after it, the claim is told to retry (PoolNotReadyError).
   */
  readonly poolSetup?: (() => Promise<void> | null) | null;
}

/** A claim weighs the keys it asks for, up to this (a count out of range is refused by the core). */
const MAX_CLAIM_WEIGHT = 1000;

/** Attempts at a claim that raced another claim for the same derivation indices. */
const MAX_CLAIM_ATTEMPTS = 5;

/**
 * What the agent API does, above the replicated log: claim (deriving keys first when the pool is short,
 * so they are committed before they are handed out), renew (leader memory only) and release.
 */
export class AllocationService {
  /** One derivation at a time per pool, so concurrent short claims do not derive the same indices. */
  private readonly derivationLocks = new Map<string, Promise<unknown>>();

  private readonly observer: AllocationObserver;
  private readonly onKeysDerived: AllocationOptions['onKeysDerived'];
  private readonly genesisForkVersion: string;
  private readonly beforeDerive: AllocationOptions['beforeDerive'];
  private readonly admission: ClaimAdmission;
  private readonly configuredPool: string | null;
  private readonly poolSetup: AllocationOptions['poolSetup'];

  constructor(
    private readonly log: ReplicatedLog,
    private readonly secrets: PoolSecrets,
    private readonly leases: LeaseKeeper,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: AllocationOptions = {},
  ) {
    this.observer = options.observer ?? {};
    this.onKeysDerived = options.onKeysDerived ?? null;
    this.genesisForkVersion = options.genesisForkVersion ?? '0x00000000';
    this.beforeDerive = options.beforeDerive ?? null;
    this.admission = options.admission ?? new ClaimAdmission(() => Infinity);
    this.configuredPool = options.configuredPool ?? null;
    this.poolSetup = options.poolSetup ?? null;
  }

  async claim(pod: PodRef, pool: string, count: number, signingMode: SigningMode = 'unknown'): Promise<Result<ClaimGrant>> {
    this.requireLeader();
    const result = await this.admission.run(() => this.claimOnce(pod, pool, count, signingMode), Math.max(1, Math.min(count, MAX_CLAIM_WEIGHT)));
    if (!result.ok) this.observer.onRefusal?.('claim', result.refusal.code);
    return result;
  }

  private async claimOnce(pod: PodRef, pool: string, count: number, signingMode: SigningMode): Promise<Result<ClaimGrant>> {
    const { podName } = pod;
    let waitedForSetup = false;
    for (let attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
      const nowMs = this.clock.wallMs();
      // Planning needs no quorum round: the core checks the claim again when it applies.
      const plan = this.log.peek((state) => planClaim(state, pool, podName, count, nowMs));
      if (!plan.ok) {
        if (plan.refusal.code === 'UNKNOWN_POOL' && pool === this.configuredPool) {
          const setup = waitedForSetup ? null : (this.poolSetup?.() ?? null);
          if (!setup) throw new PoolNotReadyError(pool);
          await setup;
          waitedForSetup = true;
          continue;
        }
        return plan; // bad arguments never reach the log
      }
      const result =
        plan.value.missingKeys > 0 && this.secrets.canDerive(pool)
          ? await this.withDerivationLock(pool, () => this.deriveAndClaim(pod, pool, count, signingMode))
          : await this.log.propose({ type: 'Claim', nowMs, ...claimant(pod), pool, count, derivedKeys: [], signingMode });
      if (!result.ok) {
        if (result.refusal.code === 'NEEDS_KEYS' || result.refusal.code === 'DERIVATION_INDEX_MISMATCH') continue;
        return result;
      }
      const { lease, keys, existing, derivedCount } = result.value;
      this.observer.onClaim?.(pool, derivedCount, existing);
      this.logger.info(existing ? 'claim repeated: same lease returned' : 'keys claimed', { podName, pool, leaseId: lease.leaseId, keys: lease.pubKeys.length, derived: derivedCount });
      const genesisValidatorsRoot = this.log.peek((state) => state.pools.get(lease.pool)!.genesisValidatorsRoot);
      return accept({
        lease,
        existing,
        genesisValidatorsRoot,
        genesisForkVersion: this.genesisForkVersion,
        keys: keys.map((key) => ({ ...this.secrets.open(key), slashingProtection: interchangeOf(genesisValidatorsRoot, [key]) })),
      });
    }
    return refuse('POOL_EXHAUSTED', `pool ${pool} is being claimed from faster than keys can be derived: retry the claim`);
  }

  /** Re-plans under the lock (another claim may have derived meanwhile), derives, and proposes. */
  private async deriveAndClaim(pod: PodRef, pool: string, count: number, signingMode: SigningMode) {
    await this.beforeDerive?.(pool);
    const nowMs = this.clock.wallMs();
    const plan = this.log.peek((state) => planClaim(state, pool, pod.podName, count, nowMs));
    if (!plan.ok) return plan;
    const startedMs = this.clock.monotonicMs();
    let lastLogged = startedMs;
    const derivedKeys = await this.secrets.deriveKeys(pool, plan.value.nextDerivationIndex, plan.value.missingKeys, (done, total) => {
      const now = this.clock.monotonicMs();
      if (total >= 10 && (done === total || now - lastLogged > 1000)) {
        lastLogged = now;
        this.logger.info('deriving keys', { pool, done, total, keysPerSecond: Math.round((done * 1000) / Math.max(1, now - startedMs)) });
      }
    });
    const depositMode = this.log.peek((state) => state.pools.get(pool)?.depositMode);
    // Another claim may have derived enough while this one waited for the lock.
    if (depositMode !== 'submit' || derivedKeys.length === 0) {
      const claimed = await this.log.propose({ type: 'Claim', nowMs: this.clock.wallMs(), ...claimant(pod), pool, count, derivedKeys, signingMode });
      if (claimed.ok && derivedKeys.length > 0 && this.onKeysDerived) {
        await this.onKeysDerived(pool, derivedKeys).catch((error: unknown) => this.logger.error('handling newly derived keys failed', { pool, error }));
      }
      return claimed;
    }
    // A pool that deposits its keys commits them first; they are claimable once their deposits confirm,
    // so this claim is answered AWAITING_DEPOSITS (the agent retries) unless enough keys came free meanwhile.
    // Kept for this pod: another claim arriving while the deposits confirm must not take them from it.
    const added = await this.log.propose({ type: 'AddDerivedKeys', nowMs: this.clock.wallMs(), pool, keys: derivedKeys, reservedFor: pod.podName });
    if (!added.ok) return added;
    this.logger.info('keys derived; their deposits are next', { pool, keys: derivedKeys.length });
    return this.log.propose({ type: 'Claim', nowMs: this.clock.wallMs(), ...claimant(pod), pool, count, derivedKeys: [], signingMode });
  }

  /**
   * With the watermarks a remote-signer agent has signed up to, kept by the leader for the lease's
   * expiry, or only their version when the agent sent them earlier (see LeaseKeeper.renew).
   */
  async renew(pod: PodRef, leaseId: string, slashingProtection = '', protectionVersion = ''): Promise<Result<{ ttlMs: number; protectionVersion: string }>> {
    this.requireLeader();
    const protection = slashingProtection ? this.checkedProtection(pod.podName, leaseId, slashingProtection) : null;
    const result = protection && !protection.ok ? protection : await this.leases.renew(pod, leaseId, protection?.value.protection, protectionVersion);
    if (!result.ok) this.observer.onRefusal?.('renew', result.refusal.code);
    return result;
  }

  /**
   * The pod's agent proves, after its lease ended unproven, that its client let go of these keys: those
   * quarantined for this pod return to the pool (with the client's protection where it sent some).
   */
  async reportRemoved(pod: PodRef, pubKeys: readonly string[], slashingProtection = ''): Promise<Result<{ returned: readonly string[] }>> {
    this.requireLeader();
    let protection: { protection: Record<string, KeyProtection>; genesisValidatorsRoot: string } | null = null;
    if (slashingProtection) {
      const checked = this.log.peek((state) => {
        const pools = new Set(pubKeys.map((k) => state.keys.get(k)?.pool).filter((p): p is string => p !== undefined));
        return pools.size === 1 ? state.pools.get([...pools][0]!)!.genesisValidatorsRoot : null;
      });
      if (checked !== null) {
        const parsed = this.parsedProtection(slashingProtection, checked, pubKeys);
        if (!parsed.ok) return parsed;
        protection = parsed.value;
      }
    }
    const result = await this.log.propose({ type: 'ProveRemoval', nowMs: this.clock.wallMs(), ...claimant(pod), pubKeys: [...pubKeys], ...(protection ?? {}) });
    if (result.ok && result.value.returned.length > 0) this.logger.info('quarantined keys proven removed by their pod\'s agent: back in the pool', { podName: pod.podName, keys: result.value.returned.length });
    return result;
  }

  /**
   * Releases a lease, with the slashing protection the validator client returned for its keys (an
   * EIP-3076 interchange, checked here so a bad one is refused before anything is written).
   */
  async release(pod: PodRef, leaseId: string, options: ReleaseOptions = {}): Promise<Result<{ lease: Lease; quarantined: readonly string[] }>> {
    this.requireLeader();
    const { podName } = pod;
    const protection = options.slashingProtection ? this.checkedProtection(podName, leaseId, options.slashingProtection) : null;
    if (protection && !protection.ok) {
      this.observer.onRefusal?.('release', protection.refusal.code);
      return protection;
    }
    const result = await this.log.propose({
      type: 'Release',
      nowMs: this.clock.wallMs(),
      ...claimant(pod),
      leaseId,
      ...(options.requestId ? { requestId: options.requestId } : {}),
      ...(options.reason ? { reason: options.reason } : {}),
      ...(protection ? protection.value : {}),
    });
    if (!result.ok) {
      this.observer.onRefusal?.('release', result.refusal.code);
      return result;
    }
    this.observer.onRelease?.(result.value.lease.pool);
    this.logger.info('keys released', { podName, leaseId, keys: result.value.lease.pubKeys.length, quarantined: result.value.quarantined.length, reason: options.reason ?? 'released' });
    return result;
  }

  /** The interchange as per-key protection for the lease's keys, or why it cannot be taken. */
  private checkedProtection(podName: string, leaseId: string, json: string): Result<{ protection: Record<string, KeyProtection>; genesisValidatorsRoot: string }> {
    const found = this.log.peek((state) => {
      const lease = state.leases.get(podName);
      return lease?.leaseId === leaseId ? { pubKeys: lease.pubKeys, genesisValidatorsRoot: state.pools.get(lease.pool)!.genesisValidatorsRoot } : null;
    });
    // An unknown lease is the core's to refuse, with its usual message.
    if (!found) return accept({ protection: {}, genesisValidatorsRoot: '' });
    return this.parsedProtection(json, found.genesisValidatorsRoot, found.pubKeys);
  }

  private parsedProtection(json: string, genesisValidatorsRoot: string, pubKeys: readonly string[]): Result<{ protection: Record<string, KeyProtection>; genesisValidatorsRoot: string }> {
    try {
      const interchange = parseInterchange(json);
      checkInterchangeFor({ interchange, genesisValidatorsRoot, allowedPubKeys: pubKeys });
      return accept({ protection: protectionOf(interchange), genesisValidatorsRoot: interchange.metadata.genesisValidatorsRoot });
    } catch (error) {
      if (error instanceof SlashingProtectionError) return refuse('INVALID_INTERCHANGE', `slashing protection refused, nothing changed: ${error.message}`);
      throw error;
    }
  }

  private requireLeader(): void {
    this.log.keepTime?.();
    // The hint sends an agent that reached a follower (through the Service) on to the leader.
    if (!this.log.isLeader()) throw NotLeaderError.of(this.log.leaderHint());
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

/** The pod fields of a Claim or Release: the uid only when it is known. */
function claimant(pod: PodRef): { podName: string; podUid?: string } {
  return pod.podUid === null ? { podName: pod.podName } : { podName: pod.podName, podUid: pod.podUid };
}
