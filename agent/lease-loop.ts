import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../shared/clock/clock.js';
import type { Logger } from '../shared/log/logger.js';
import { CoordinatorCallError, type AnsweredRenewal, type ClaimedKeys, type CoordinatorClient, type Renewed, type SigningMode } from './coordinator-client.js';
import { AgentError } from './errors.js';
import type { KeyHolder } from './key-holders.js';
import type { FenceCause, LeaseLoopObserver } from './lease-observer.js';
import { RenewalWatermarks } from './renewal-watermarks.js';

export type AgentPhase = 'claiming' | 'holding' | 'fenced' | 'stopped' | 'failed';

export interface LeaseLoopOptions {
  readonly podName: string;
  readonly pool: string;
  readonly keyCount: number;
  /** Where the validator client gets the keys: the agent's signer, files, its Keymanager API, or a mix. */
  readonly holder: KeyHolder;
  /** Told to the coordinator with the claim: it decides what an end without proof means (S7). */
  readonly signingMode: SigningMode;
  /**
   * Start the fence this long before the deadline: time to take the keys out of the client's list
   * while the signer still answers (a refused AGGREGATION_SLOT costs Lodestar every key's duties).
   */
  readonly fenceLeadMs?: number;
  readonly client: CoordinatorClient;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Fence this long before the lease could lapse; 0 picks max(1 s, TTL/5). */
  readonly fenceMarginMs: number;
  readonly requestTimeoutMs: number;
  readonly observer?: LeaseLoopObserver;
}

/** Refusals that no retry can fix: the operator must change the pod's settings. */
const FATAL_REFUSALS = new Set(['INVALID_ARGUMENT', 'UNKNOWN_POOL', 'LEASE_CONFLICT']);
const MIN_RETRY_MS = 250;
/** Attempts at reporting a proven removal after the lease ended. */
const REPORT_ATTEMPTS = 5;

/** What a proven removal took out of the client, and the slashing protection it gave back. */
interface Removed {
  readonly slashingProtection: string | null;
  readonly pubKeys: readonly string[];
}
const MAX_RETRY_MS = 5000;
/**
 * Renewals back off less: a missed deadline takes the pod's validators offline, a retry costs one call.
 * Measured with 100 agents through a leader failover (npm run bench:fleet): backing off to 5 s, and
 * sleeping before trying the next replica, let 39-94 of them fence; see the retry loop below.
 */
const MAX_RENEW_RETRY_MS = 1000;
/**
 * Renewals come every TTL/3, up to this share sooner: pods started together (or sent to a new leader
 * together) drift apart instead of renewing in one burst. Sooner is always safe for the fence.
 */
const RENEW_JITTER = 0.2;
/** A renewal's retry comes up to this share sooner: a fleet whose leader died retries spread out. */
const RENEW_RETRY_JITTER = 0.5;
const CLAIM_RETRY_JITTER = 0.5;
/**
 * A busy leader names when to claim again, spacing a fleet's returns at the rate it serves claims; the
 * agent adds up to this share, and waits no longer than the cap whatever it was told.
 */
const RETRY_AFTER_JITTER = 0.1;
const MAX_RETRY_AFTER_MS = 60_000;
/**
 * A renewal refused by a replica that expects a leader in N ms comes back after N to (1 + this)·N ms:
 * the fleet's renewals that fell due without a leader reach the new one spread out, not in one burst.
 */
const LEADER_EXPECTED_SPREAD = 1;

/**
 * The agent's life: claim, write the keys, renew every TTL/3, and fence (remove every key) when the
 * lease could lapse before the next renewal is known. The deadline is measured from the *send* time
 * of the last successful renewal on a monotonic clock, so it always falls before the leader's expiry,
 * which is measured from when it *received* that renewal (DESIGN.md, S2).
 */
export class LeaseLoop {
  private phase: AgentPhase = 'claiming';
  private lease: ClaimedKeys | null = null;
  private deadlineMs = 0;
  /** When the lease's last confirmed renewal (or its claim) was sent, on the clock's monotonic time. */
  private renewalSentAtMs = 0;
  private fenceTimer: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private stopping = false;
  private stopped: Promise<{ handedBack: boolean }> | null = null;
  /** The removal in progress, shared by a fence and a stop that overlap. */
  private removal: Promise<Removed> | null = null;
  /** Keys this agent held may still be in the client: health stays red until removal is proven. */
  private unproven = false;
  private running: Promise<void> | null = null;
  private readonly listeners = new Set<(phase: AgentPhase) => void>();
  private readonly watermarks = new RenewalWatermarks();
  failure: Error | null = null;

  constructor(private readonly options: LeaseLoopOptions) {}

  get currentPhase(): AgentPhase {
    return this.phase;
  }

  get leaseId(): string | null {
    return this.lease?.leaseId ?? null;
  }

  /** Keys held under a live lease (0 while claiming, fenced or stopped). */
  get keysHeld(): number {
    return this.phase === 'holding' ? (this.lease?.keys.length ?? 0) : 0;
  }

  /** Milliseconds until the fence unless a renewal is confirmed; null without a lease. */
  get msToFence(): number | null {
    return this.lease && this.phase === 'holding' ? this.deadlineMs - this.options.clock.monotonicMs() : null;
  }

  /** True while keys this agent held may still be loaded in the validator client. */
  get removalUnproven(): boolean {
    return this.unproven;
  }

  onPhase(listener: (phase: AgentPhase) => void): void {
    this.listeners.add(listener);
  }

  start(): Promise<void> {
    this.running ??= this.run();
    return this.running;
  }

  /**
   * Removes the keys first (nothing may sign once we let go), retrying until removal is proven, then
   * hands them back with the slashing protection the client returned. Resolves true once the pool has
   * them back (released, or proven removed after the lease ended); false when the release failed.
   */
  stop(): Promise<{ handedBack: boolean }> {
    // preStop and then SIGTERM both stop the agent: the second call waits for the first.
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<{ handedBack: boolean }> {
    this.stopping = true;
    this.wake?.();
    await this.running?.catch(() => {});
    this.clearFenceTimer();
    const lease = this.lease;
    // A pod being stopped signs nothing more, whatever else happens.
    this.options.holder.setDeadline?.(null);
    const removed = await this.removeUntilProven();
    this.lease = null;
    const handedBack = await this.handBack(lease, removed, 'released');
    this.setPhase('stopped');
    return { handedBack };
  }

  /**
   * Takes every key away from the validator client, retrying with backoff until the client proves it
   * (a Keymanager GET after DELETE), however long that takes: until then the keys may sign here, so
   * nothing is handed back and health stays red. The pod's end (or an operator) is the other way out.
   */
  private removeUntilProven(): Promise<Removed> {
    this.removal ??= (async () => {
      const { holder, logger } = this.options;
      let retryMs = MIN_RETRY_MS;
      for (let attempt = 1; ; attempt++) {
        try {
          const removed = await holder.removeAll();
          if (this.unproven) logger.info('removal from the validator client proven', { attempts: attempt });
          this.unproven = false;
          return { slashingProtection: removed.slashingProtection, pubKeys: removed.pubKeys ?? [] };
        } catch (error) {
          this.unproven = true;
          if (attempt === 1 || attempt % 20 === 0) {
            logger.error('could not prove the keys left the validator client; retrying until it does, and nothing is handed back meanwhile', { error: describe(error), attempts: attempt });
          }
          await new Promise((resolve) => setTimeout(resolve, retryMs));
          retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
        }
      }
    })().finally(() => (this.removal = null));
    return this.removal;
  }

  /**
   * After a proven removal: release the lease if it is still ours; once it has ended (the keys are then
   * quarantined for this pod), report the proof so they return to the pool. Files mode has nothing to
   * prove: a running client keeps keys it loaded from files.
   */
  private async handBack(lease: ClaimedKeys | null, removed: Removed, reason: 'released' | 'fenced'): Promise<boolean> {
    const released = lease ? await this.release(lease, removed.slashingProtection, reason) : 'not-released';
    if (released === 'handed-back') return true;
    if (this.options.signingMode === 'files' || removed.pubKeys.length === 0) return false;
    // Released but quarantined (the client's protection was unreadable), or not released at all: the
    // removal is proven all the same, and the pool takes the keys back on that proof.
    return this.reportRemoved(removed.pubKeys, removed.slashingProtection);
  }

  private async reportRemoved(pubKeys: readonly string[], slashingProtection: string | null): Promise<boolean> {
    const { client, podName, logger, requestTimeoutMs } = this.options;
    let retryMs = MIN_RETRY_MS;
    for (let attempt = 1; attempt <= REPORT_ATTEMPTS; attempt++) {
      try {
        const { returned } = await client.reportRemoved(podName, pubKeys, slashingProtection, requestTimeoutMs);
        logger.info('reported the keys removed from the validator client', { keys: pubKeys.length, returnedFromQuarantine: returned.length });
        return true;
      } catch (error) {
        if (error instanceof CoordinatorCallError && error.isRefusal) {
          logger.warn('the coordinator refused the proof of removal; the keys stay quarantined until the pod is gone or an operator releases them', { error: describe(error) });
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
    logger.warn('could not report the proof of removal; the keys stay quarantined until the pod is gone or an operator releases them');
    return false;
  }

  /**
   * Retries (same request id, so it applies once) through leader changes until the lease could have
   * lapsed anyway; after that the lease ends on its own and the proof of removal is reported instead.
   */
  private async release(lease: ClaimedKeys, slashingProtection: string | null, reason: 'released' | 'fenced'): Promise<'handed-back' | 'quarantined' | 'not-released'> {
    const { client, podName, logger, clock, requestTimeoutMs } = this.options;
    const requestId = randomUUID();
    let retryMs = MIN_RETRY_MS;
    for (;;) {
      try {
        const { quarantined } = await client.release(podName, lease.leaseId, requestTimeoutMs, { requestId, slashingProtection, reason });
        logger.info('lease released', { leaseId: lease.leaseId, keys: lease.keys.length, withSlashingProtection: slashingProtection !== null, quarantined: quarantined.length, reason });
        return quarantined.length === 0 ? 'handed-back' : 'quarantined';
      } catch (error) {
        const remainingMs = this.deadlineMs - clock.monotonicMs();
        const refused = error instanceof CoordinatorCallError && error.isRefusal;
        if (refused && error.refusalCode === 'INVALID_INTERCHANGE' && slashingProtection !== null) {
          // The keys are out of the client; released without it they are quarantined until the proof follows.
          logger.warn('the coordinator refused the slashing protection; releasing without it', { error: describe(error) });
          slashingProtection = null;
          continue;
        }
        if (refused || remainingMs <= retryMs) {
          // The keys are gone from this pod already; the lease ends on its own and the proof follows.
          logger.warn('release failed; the lease will end on its own', { leaseId: lease.leaseId, error: describe(error) });
          return 'not-released';
        }
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
  }

  private async run(): Promise<void> {
    try {
      // A restarted agent holds no lease yet: whatever an earlier run left in the client must not sign.
      const leftovers = await this.removeUntilProven();
      if (leftovers.pubKeys.length > 0) {
        this.options.logger.warn('removed keys an earlier run left in the validator client, before claiming', { keys: leftovers.pubKeys.length });
        if (this.options.signingMode !== 'files') await this.reportRemoved(leftovers.pubKeys, leftovers.slashingProtection);
      }
      while (!this.stopping) {
        const claimed = await this.claimUntilGranted();
        if (!claimed) break;
        await this.holdAndRenew();
      }
    } catch (error) {
      this.failure = error instanceof Error ? error : new Error(String(error));
      this.options.logger.error('agent stopped on an error it cannot retry', { error: this.failure });
      await this.fence('error', 'unrecoverable error');
      this.setPhase('failed');
    }
  }

  private async claimUntilGranted(): Promise<boolean> {
    const { client, podName, pool, keyCount, logger, clock } = this.options;
    this.setPhaseUnlessFenced('claiming');
    let retryMs = MIN_RETRY_MS;
    while (!this.stopping) {
      const sentAt = clock.monotonicMs();
      try {
        const claimed = await client.claim(podName, pool, keyCount, this.options.requestTimeoutMs, this.options.signingMode);
        if (claimed.keys.length !== keyCount) throw new AgentError('CLAIM_MISMATCH', `coordinator granted ${claimed.keys.length} keys instead of ${keyCount}`);
        this.lease = claimed;
        this.renewalSentAtMs = sentAt;
        this.watermarks.reset();
        // In signer mode every signature goes through the agent's signer, which signs nothing past the
        // deadline: a grant answered (or installed) too late waits silent for one renewal instead of being
        // given back, and the fence timer starts once the keys are in.
        const signerGuarded = this.options.signingMode === 'signer';
        const claimDeadlineMs = sentAt + claimed.leaseTtlMs - this.marginMs(claimed.leaseTtlMs);
        if (signerGuarded) {
          this.deadlineMs = claimDeadlineMs;
          this.options.holder.setDeadline?.(claimDeadlineMs);
        } else this.setDeadline(claimDeadlineMs);
        try {
          await this.options.holder.install(claimed.keys, claimed);
        } catch (error) {
          // The client would not take the keys (or cannot be reached): give them back and try again later.
          logger.warn('handing the keys to the validator client failed; giving them back', { error: describe(error) });
          await this.fence('install_failed', 'the validator client did not take the keys');
          await this.sleep(retryMs);
          retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
          continue;
        }
        if (clock.monotonicMs() >= this.deadlineMs) {
          if (!signerGuarded || !(await this.confirmLateGrant())) {
            await this.fence('install_slow', 'writing keys took longer than the lease allows');
            continue;
          }
        } else if (signerGuarded) this.armFenceTimer();
        this.options.observer?.onClaim('granted');
        logger.info('keys claimed and written', { leaseId: claimed.leaseId, keys: claimed.keys.length, leaseTtlMs: claimed.leaseTtlMs, to: this.options.holder.name });
        this.setPhase('holding');
        return true;
      } catch (error) {
        this.options.observer?.onClaim(error instanceof CoordinatorCallError && error.isRefusal ? 'refused' : 'failed');
        if (error instanceof CoordinatorCallError && error.refusalCode && FATAL_REFUSALS.has(error.refusalCode)) {
          throw new AgentError('CLAIM_REFUSED', `the coordinator refused the claim: ${error.message}`);
        }
        const busy = error instanceof CoordinatorCallError && error.refusalCode === 'COORDINATOR_BUSY';
        if (busy && error.retryAfterMs !== null) {
          // Told when: the leader's own schedule, not this agent's backoff, which stays where it was.
          const waitMs = Math.min(MAX_RETRY_AFTER_MS, error.retryAfterMs * (1 + RETRY_AFTER_JITTER * Math.random()));
          logger.info('the coordinator is busy with other claims; retrying when it said', { retryInMs: Math.round(waitMs) });
          await this.sleep(waitMs);
          continue;
        }
        if (busy) logger.info('the coordinator is busy with other claims; retrying', { retryInMs: retryMs });
        else if (error instanceof CoordinatorCallError && error.refusalCode === 'AWAITING_DEPOSITS') logger.info('waiting for deposits', { reason: error.message });
        else if (error instanceof CoordinatorCallError && error.refusalCode === 'PREVIOUS_POD_HOLDS_LEASE') logger.warn('waiting for the lease of the pod this one replaced to end', { reason: error.message });
        else if (error instanceof CoordinatorCallError && error.status === status.RESOURCE_EXHAUSTED) logger.warn('waiting for free keys', { reason: error.message });
        else logger.warn('claim failed; retrying', { error: describe(error), retryInMs: retryMs });
        // Up to half sooner: pods refused together (a fleet starting at once) come back spread out.
        await this.sleep(retryMs * (1 - CLAIM_RETRY_JITTER * Math.random()));
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
    return false;
  }

  /**
   * One renewal for a grant whose deadline passed before its keys were in (a leader slow to answer):
   * the signer has signed nothing with them. A renewal sent now, and answered in time, runs the lease
   * from its own send time, as any renewal does; refused or unanswered, the grant is given back.
   */
  private async confirmLateGrant(): Promise<boolean> {
    const { client, podName, clock, logger } = this.options;
    const lease = this.lease!;
    const sentAt = clock.monotonicMs();
    try {
      const watermarks = this.watermarks.next(this.options.holder.currentProtection?.() ?? '');
      const renewed = await client.renew(podName, lease.leaseId, Math.min(this.options.requestTimeoutMs, lease.leaseTtlMs / 3), watermarks, sentAt, this.renewalSentAtMs);
      if (clock.monotonicMs() >= this.deadlineAfter(renewed)) return false;
      this.takeRenewal(renewed);
      logger.info('the grant came too late to sign with; a renewal confirmed it', { leaseId: lease.leaseId, msToFence: Math.round(this.deadlineMs - clock.monotonicMs()) });
      return true;
    } catch (error) {
      logger.warn('the grant came too late to sign with, and no renewal confirmed it; giving it back', { error: describe(error) });
      return false;
    }
  }

  /** The fence deadline a renewal's answer gives: from when the renewal it answers was sent. */
  private deadlineAfter(renewed: Renewed & { readonly answered: AnsweredRenewal }): number {
    return renewed.answered.sentAtMs + renewed.leaseTtlMs - this.marginMs(renewed.leaseTtlMs);
  }

  /** Takes in a renewal's answer: the lease runs from its send time. True when the watermarks must go again in full at once. */
  private takeRenewal(renewed: Renewed & { readonly answered: AnsweredRenewal }): boolean {
    this.renewalSentAtMs = renewed.answered.sentAtMs;
    this.setDeadline(this.deadlineAfter(renewed));
    return this.watermarks.answered(renewed.answered.watermarks, renewed);
  }

  private async holdAndRenew(): Promise<void> {
    const { client, podName, logger, clock } = this.options;
    /** The leader holds none of this agent's watermarks (a new leader): renew again at once, with them. */
    let resend = false;
    while (!this.stopping && this.lease && this.phase === 'holding') {
      const ttlMs = this.lease.leaseTtlMs;
      if (!resend) await this.sleep((ttlMs / 3) * (1 - RENEW_JITTER * Math.random()));
      resend = false;
      if (this.stopping || !this.lease || this.phase !== 'holding') return;
      let retryMs = MIN_RETRY_MS;
      let switchesWithoutPause = 0;
      while (!this.stopping && this.lease && this.phase === 'holding') {
        const sentAt = clock.monotonicMs();
        const remainingMs = this.deadlineMs - sentAt;
        const askedEndpoint = client.endpoint;
        try {
          // A third of what is left per attempt: a replica that hangs (paused, partitioned) must leave
          // time to try the others before the fence deadline.
          const watermarks = this.watermarks.next(this.options.holder.currentProtection?.() ?? '');
          // A renewal sent since the last confirmed one and still unanswered is waited for, not repeated.
          const renewed = await client.renew(podName, this.lease.leaseId, Math.min(this.options.requestTimeoutMs, Math.max(1, remainingMs / 3)), watermarks, sentAt, this.renewalSentAtMs);
          const answeredAt = clock.monotonicMs();
          this.options.observer?.onRenewal('ok', (answeredAt - sentAt) / 1000, this.deadlineMs - answeredAt);
          // Only a renewal sent before the fence can extend the deadline, and only from when it was sent.
          if (this.phase !== 'holding') return;
          resend = this.takeRenewal(renewed);
          logger.debug('lease renewed', { leaseId: this.lease.leaseId, msToFence: Math.round(this.deadlineMs - clock.monotonicMs()) });
          break;
        } catch (error) {
          const answeredAt = clock.monotonicMs();
          this.options.observer?.onRenewal('failed', (answeredAt - sentAt) / 1000, this.deadlineMs - answeredAt);
          if (error instanceof CoordinatorCallError && error.refusalCode === 'LEASE_NOT_FOUND') {
            await this.fence('lease_unknown', 'the coordinator no longer knows the lease');
            return;
          }
          logger.warn('renewal failed; retrying until the fence deadline', { error: describe(error), msToFence: Math.round(remainingMs) });
          // A replica that answered it knows no leader: an election is on, and the others know no more
          // until it ends. Asking round the replicas meanwhile, a whole fleet buried the replicas that were
          // electing (and the new leader's quorum) in refusals: pause first, the fleet spread by jitter.
          const leaderless = error instanceof CoordinatorCallError && error.notApplied && error.leaderId === null;
          // Sent on to the leader, or on to the next replica after a dead or hung one: ask there at once,
          // up to one round of the replicas; waiting first only spends the time left on the lease.
          if (!leaderless && client.endpoint !== askedEndpoint && switchesWithoutPause < client.endpointCount) {
            switchesWithoutPause++;
            continue;
          }
          switchesWithoutPause = 0;
          // Several attempts must fit before the deadline, however long the pause.
          const leftMs = Math.max(0, this.deadlineMs - clock.monotonicMs());
          const backoffMs = retryMs * (1 - RENEW_RETRY_JITTER * Math.random());
          retryMs = Math.min(MAX_RENEW_RETRY_MS, retryMs * 2);
          // A replica that refused it said when it expects a leader to be known (its election timer): asked
          // before then, it and the other electing replica only spend on refusals the CPU the election needs.
          // Spread after that moment, so the fleet does not reach the new leader in one burst.
          const toldMs = error instanceof CoordinatorCallError && error.notApplied ? error.retryAfterMs : null;
          const pauseMs = toldMs === null ? backoffMs : Math.max(backoffMs, toldMs * (1 + LEADER_EXPECTED_SPREAD * Math.random()));
          await this.sleep(Math.min(pauseMs, leftMs / 4));
        }
      }
    }
  }

  /**
   * Takes every key away from the validator client and forgets the lease: from here on this pod signs
   * nothing. Retried until the removal is proven, however long that takes; then the lease is given back
   * (with the client's slashing protection, so the keys need not cool) if the coordinator still has it.
   */
  private async fence(cause: FenceCause, reason: string): Promise<void> {
    this.clearFenceTimer();
    // The signer stops at once, unless this is the deadline's fence, started early so the client lets go
    // of the keys while the signer still answers; the signer's own cutoff at the deadline holds anyway.
    if (cause !== 'deadline') this.options.holder.setDeadline?.(null);
    const lease = this.lease;
    this.lease = null;
    this.setPhase('fenced');
    this.options.observer?.onFence(cause);
    this.wake?.();
    const removed = await this.removeUntilProven();
    this.options.logger.warn('fenced: keys removed', { reason, cause, leaseId: lease?.leaseId ?? null });
    // Past the deadline the coordinator usually still has the lease (it expires later): release it.
    await this.handBack(lease, removed, 'fenced');
  }

  /** A new deadline: the signer's hard cutoff, and the fence timer a lead before it. */
  private setDeadline(deadlineMs: number): void {
    this.deadlineMs = deadlineMs;
    this.options.holder.setDeadline?.(deadlineMs);
    this.armFenceTimer();
  }

  private armFenceTimer(): void {
    this.clearFenceTimer();
    // The lead stays within half the margin, so the fence never comes before the next renewal is due.
    const leadMs = Math.min(this.options.fenceLeadMs ?? 0, this.lease ? this.marginMs(this.lease.leaseTtlMs) / 2 : 0);
    const delay = Math.max(0, this.deadlineMs - leadMs - this.options.clock.monotonicMs());
    this.fenceTimer = setTimeout(() => {
      this.fenceTimer = null;
      void this.fence('deadline', 'no renewal confirmed before the fence deadline');
    }, delay);
  }

  private clearFenceTimer(): void {
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = null;
  }

  private marginMs(ttlMs: number): number {
    const wanted = this.options.fenceMarginMs > 0 ? this.options.fenceMarginMs : Math.max(1000, ttlMs / 5);
    // The deadline must stay past the first renewal (TTL/3), or the agent would fence a healthy lease.
    return Math.min(wanted, ttlMs / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        if (this.wakeTimer) clearTimeout(this.wakeTimer);
        this.wake = null;
        resolve();
      };
      this.wakeTimer = setTimeout(() => this.wake?.(), ms);
    });
  }

  private setPhaseUnlessFenced(phase: AgentPhase): void {
    if (this.phase !== 'fenced') this.setPhase(phase);
  }

  private setPhase(phase: AgentPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    for (const listener of this.listeners) listener(phase);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
