import { refuse, accept, mergeProtection, type KeyProtection, type Lease, type PodRef, type ReadonlyCoreState, type Result } from '../core/index.js';
import { NotLeaderError } from '../replication/errors.js';
import type { AppliedEntry, ReplicatedLog } from '../replication/types.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';

interface LiveLease {
  readonly leaseId: string;
  readonly podUid: string | null;
  readonly pool: string;
  readonly ttlMs: number;
  /** On this replica's monotonic clock, `ttlMs` after the last renewal was received. */
  expiresAtMs: number;
  /** The highest watermarks the agent reported with its renewals (remote-signer mode), per key. */
  protection: Record<string, KeyProtection> | null;
  /** The agent's name for the watermarks it last sent in full (empty from agents that always send them). */
  protectionVersion: string;
}

export interface LeaseKeeperEvents {
  onExpired?(pool: string): void;
  /** A renewal waited for a quorum round: this leader's lease had lapsed. */
  onRenewalConfirmedByQuorum?(): void;
}

/**
 * Lease expiry, kept in the leader's memory as etcd's lessor does: renewals never touch the log; only
 * the decision that a lease is over is proposed (ExpireLease). On promotion every lease gets a full TTL,
 * so failover only ever lengthens leases — the direction that keeps an agent's fence ahead of expiry.
 */
/** A new leader that failed to read the leases tries again after this. */
const LOAD_RETRY_MS = 100;

export class LeaseKeeper {
  private readonly live = new Map<string, LiveLease>();
  /**
   * No live lease expires before this (renewals only move expiries later): the tick reads the table
   * only once it has passed, not ten times a second whatever the fleet's size.
   */
  private earliestExpiryMs = Infinity;
  /** Pods whose ExpireLease is in flight: renewals for them are refused, the agent must fence. */
  private readonly expiring = new Set<string>();
  private nextCoolingEndMs: number | null = null;
  private leader = false;
  /** Set while a new leader reads every existing lease; renewals wait for it. */
  private loading: Promise<void> | null = null;
  /** Every existing lease is in `live`: until then this leader cannot tell a live lease from a gone one. */
  private loaded = false;
  /** Counts promotions, so that a read begun in an earlier term never fills this term's table. */
  private term = 0;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly log: ReplicatedLog,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly events: LeaseKeeperEvents = {},
  ) {}

  async start(): Promise<void> {
    this.unsubscribe.push(this.log.onApplied((entry) => this.observe(entry)));
    this.unsubscribe.push(this.log.onLeadershipChange((isLeader) => void this.setLeadership(isLeader)));
    await this.setLeadership(this.log.isLeader());
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    this.leader = false;
    this.loaded = false;
    this.term++;
    this.live.clear();
  }

  /**
   * Extends a lease by its TTL from now. Only the leader answers; the log is not written. A leader just
   * elected answers once it has read every existing lease (one ReadIndex round): answering before, it
   * would call live leases unknown and make their agents fence.
   *
   * `protectionVersion` names the watermarks sent with `protection`; without `protection`, it names
   * those the agent sent earlier. The answer says which version this leader holds ('' for none), so an
   * agent sends its watermarks in full only when they changed or this leader lacks them.
   */
  async renew(pod: PodRef, leaseId: string, protection?: Readonly<Record<string, KeyProtection>>, protectionVersion = ''): Promise<Result<{ ttlMs: number; protectionVersion: string }>> {
    if (this.loading) await this.loading;
    // Not (yet) able to answer: the agent retries, here or at another replica, well before its fence.
    if (!this.leader || !this.loaded) throw NotLeaderError.of(null);
    if (!this.log.leaderLeaseHeld()) {
      // A leader that stalled may have been replaced without knowing it yet; its answer would let the
      // agent sign past the expiry its successor counts. A quorum round after the request arrived proves
      // no successor was elected before it, so any later one gives this lease a full TTL from its promotion.
      this.events.onRenewalConfirmedByQuorum?.();
      await this.log.read(() => undefined);
      if (!this.leader || !this.loaded) throw NotLeaderError.of(null);
    }
    const { podName } = pod;
    const lease = this.live.get(podName);
    // A lease taken by a verified pod is renewed only by that pod, not by a namesake that replaced it.
    const otherPod = lease !== undefined && lease.podUid !== null && lease.podUid !== pod.podUid;
    if (!lease || lease.leaseId !== leaseId || otherPod || this.expiring.has(podName)) {
      return refuse('LEASE_NOT_FOUND', `pod ${podName.slice(0, 253)} holds no live lease ${leaseId.slice(0, 40)}: it expired or was released; fence and claim again`);
    }
    lease.expiresAtMs = this.clock.monotonicMs() + lease.ttlMs;
    if (protection) {
      const kept = (lease.protection ??= {});
      for (const [pubKey, marks] of Object.entries(protection)) kept[pubKey] = mergeProtection(kept[pubKey] ?? null, marks)!;
      lease.protectionVersion = protectionVersion;
    }
    // The hottest path of a large fleet: not even the fields are built unless they are logged.
    if (this.logger.level === 'debug') this.logger.debug('lease renewed', { podName, leaseId });
    return accept({ ttlMs: lease.ttlMs, protectionVersion: lease.protectionVersion });
  }

  /** Wall-clock time at which this leader will expire the pod's lease if it hears nothing more. */
  expiresAtWallMs(podName: string): number | null {
    const lease = this.live.get(podName);
    if (!lease) return null;
    return this.clock.wallMs() + (lease.expiresAtMs - this.clock.monotonicMs());
  }

  /** Proposes expiry for overdue leases and the return of cooled keys. Called periodically by the driver. */
  async tick(): Promise<void> {
    if (!this.leader) return;
    const now = this.clock.monotonicMs();
    const overdue = now >= this.earliestExpiryMs ? this.overdueAt(now) : [];
    if (overdue.length > 0) {
      // Confirm leadership first: a stalled former leader must never expire leases (etcd's lessor bug).
      const stillLeader = await this.log.read(() => this.log.isLeader()).catch(() => false);
      if (!stillLeader) return;
      await Promise.all(overdue.map(([podName, lease]) => this.expire(podName, lease)));
    }
    const wallNow = this.clock.wallMs();
    if (this.nextCoolingEndMs !== null && this.nextCoolingEndMs <= wallNow) {
      this.nextCoolingEndMs = null;
      const result = await this.log.propose({ type: 'FinishCooling', nowMs: wallNow });
      if (result.ok && result.value.returned.length > 0) this.logger.info('cooled keys returned to their pools', { count: result.value.returned.length });
      this.nextCoolingEndMs = await this.log.read(earliestCoolingEnd);
    }
  }

  /** Leases past their expiry and not being expired yet; the earliest expiry of the others (and of these, until they are gone). */
  private overdueAt(now: number): Array<[string, LiveLease]> {
    const overdue: Array<[string, LiveLease]> = [];
    let earliest = Infinity;
    for (const [podName, lease] of this.live) {
      if (this.expiring.has(podName)) continue;
      if (lease.expiresAtMs <= now) overdue.push([podName, lease]);
      if (lease.expiresAtMs < earliest) earliest = lease.expiresAtMs;
    }
    this.earliestExpiryMs = earliest;
    return overdue;
  }

  private track(podName: string, lease: LiveLease): void {
    this.live.set(podName, lease);
    if (lease.expiresAtMs < this.earliestExpiryMs) this.earliestExpiryMs = lease.expiresAtMs;
  }

  private async expire(podName: string, lease: LiveLease): Promise<void> {
    this.expiring.add(podName);
    try {
      const protection = lease.protection ? { protection: lease.protection } : {};
      const result = await this.log.propose({ type: 'ExpireLease', nowMs: this.clock.wallMs(), podName, leaseId: lease.leaseId, ...protection });
      if (result.ok) {
        this.logger.warn('lease expired without renewal', {
          podName,
          leaseId: lease.leaseId,
          keys: result.value.lease.pubKeys.length,
          quarantined: result.value.quarantined.length,
          coolingUntilMs: result.value.coolingUntilMs,
        });
        this.events.onExpired?.(lease.pool);
      }
    } catch (error) {
      this.logger.warn('proposing lease expiry failed; will retry', { podName, error });
    } finally {
      this.expiring.delete(podName);
      // Not expired after all (the proposal failed): the next tick looks again.
      if (this.live.get(podName) === lease) this.earliestExpiryMs = Math.min(this.earliestExpiryMs, lease.expiresAtMs);
    }
  }

  private async setLeadership(isLeader: boolean): Promise<void> {
    if (isLeader === this.leader) return;
    this.leader = isLeader;
    this.loaded = false;
    this.live.clear();
    this.earliestExpiryMs = Infinity;
    this.term++;
    if (!isLeader) return;
    const loading = this.loadLeases(this.term);
    this.loading = loading;
    await loading;
    if (this.loading === loading) this.loading = null;
  }

  /** Reads every lease, retrying while this replica stays leader (a read can time out in a turbulent cluster). */
  private async loadLeases(term: number): Promise<void> {
    while (term === this.term) {
      try {
        await this.readLeases(term);
        return;
      } catch (error) {
        if (term !== this.term) return;
        this.logger.warn('a new leader could not read the leases yet; retrying', { error });
        await new Promise((resolve) => setTimeout(resolve, LOAD_RETRY_MS));
      }
    }
  }

  private async readLeases(term: number): Promise<void> {
    const { leases, coolingEnd } = await this.log.read((state) => ({ leases: [...state.leases.values()], coolingEnd: earliestCoolingEnd(state) }));
    if (term !== this.term) return;
    this.loaded = true;
    const now = this.clock.monotonicMs();
    // Watermarks reported to the former leader are lost with it: the next claim takes them from the clock (S8).
    for (const lease of leases) this.track(lease.podName, { leaseId: lease.leaseId, podUid: lease.podUid, pool: lease.pool, ttlMs: lease.ttlMs, expiresAtMs: now + lease.ttlMs, protection: null, protectionVersion: '' });
    this.nextCoolingEndMs = coolingEnd;
    if (leases.length > 0) this.logger.info('leader holds every existing lease for a full TTL from now', { leases: leases.length });
  }

  private observe(entry: AppliedEntry): void {
    const { command, result } = entry;
    if (!result.ok) return;
    if (command.type === 'Claim') {
      const { lease } = result.value as { lease: Lease };
      // A repeated claim from a live pod counts as a renewal.
      const known = this.live.get(lease.podName);
      const same = known?.leaseId === lease.leaseId;
      this.track(lease.podName, { leaseId: lease.leaseId, podUid: lease.podUid, pool: lease.pool, ttlMs: lease.ttlMs, expiresAtMs: this.clock.monotonicMs() + lease.ttlMs, protection: same ? known.protection : null, protectionVersion: same ? known.protectionVersion : '' });
    } else if (command.type === 'Release' || command.type === 'ExpireLease' || command.type === 'HolderGone') {
      // A retried release answers from memory: it must not end a newer lease of the same pod.
      if (command.type !== 'HolderGone' && this.live.get(command.podName)?.leaseId === command.leaseId) this.live.delete(command.podName);
      // Each can send keys to cooling; the earliest end is when FinishCooling is next proposed.
      const until = (result.value as { coolingUntilMs: number | null }).coolingUntilMs;
      if (until !== null && (this.nextCoolingEndMs === null || until < this.nextCoolingEndMs)) this.nextCoolingEndMs = until;
    }
  }
}

function earliestCoolingEnd(state: ReadonlyCoreState): number | null {
  let earliest: number | null = null;
  for (const key of state.keys.values()) {
    if (key.state === 'cooling' && key.coolingUntilMs !== null && (earliest === null || key.coolingUntilMs < earliest)) earliest = key.coolingUntilMs;
  }
  return earliest;
}
