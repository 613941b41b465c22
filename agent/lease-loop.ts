import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../shared/clock/clock.js';
import type { Logger } from '../shared/log/logger.js';
import { CoordinatorCallError, type ClaimedKeys, type CoordinatorClient } from './coordinator-client.js';
import { AgentError } from './errors.js';
import type { KeyHolder } from './key-holders.js';
import type { FenceCause, LeaseLoopObserver } from './lease-observer.js';

export type AgentPhase = 'claiming' | 'holding' | 'fenced' | 'stopped' | 'failed';

export interface LeaseLoopOptions {
  readonly podName: string;
  readonly pool: string;
  readonly keyCount: number;
  /** Where the validator client gets the keys: files, its Keymanager API, or both. */
  readonly holder: KeyHolder;
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
  private fenceTimer: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private stopping = false;
  private stopped: Promise<{ released: boolean }> | null = null;
  private running: Promise<void> | null = null;
  private readonly listeners = new Set<(phase: AgentPhase) => void>();
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

  onPhase(listener: (phase: AgentPhase) => void): void {
    this.listeners.add(listener);
  }

  start(): Promise<void> {
    this.running ??= this.run();
    return this.running;
  }

  /**
   * Removes the keys first (nothing may sign once we let go), then releases the lease with the slashing
   * protection the validator client returned. Resolves once the release is committed (or has failed).
   */
  stop(): Promise<{ released: boolean }> {
    // preStop and then SIGTERM both stop the agent: the second call waits for the first.
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<{ released: boolean }> {
    this.stopping = true;
    this.wake?.();
    await this.running?.catch(() => {});
    this.clearFenceTimer();
    const lease = this.lease;
    const removal = await this.removeKeys();
    this.lease = null;
    // A removal that could not be proven must not release: the keys may still sign here until the lease expires.
    const released = lease !== null && removal !== null ? await this.release(lease, removal.slashingProtection, 'released') : false;
    this.setPhase('stopped');
    return { released };
  }

  /** Takes every key away from the validator client; null (and logged) when that could not be proven. */
  private async removeKeys(): Promise<{ slashingProtection: string | null } | null> {
    try {
      return await this.options.holder.removeAll();
    } catch (error) {
      this.options.logger.error('could not prove the keys were removed from the validator client: not releasing, the lease will expire and the keys cool down', { error: describe(error) });
      return null;
    }
  }

  /**
   * Retries (same request id, so it applies once) through leader changes until the lease could have
   * lapsed anyway; after that the keys simply expire and cool down.
   */
  private async release(lease: ClaimedKeys, slashingProtection: string | null, reason: 'released' | 'fenced'): Promise<boolean> {
    const { client, podName, logger, clock, requestTimeoutMs } = this.options;
    const requestId = randomUUID();
    let retryMs = MIN_RETRY_MS;
    for (;;) {
      try {
        await client.release(podName, lease.leaseId, requestTimeoutMs, { requestId, slashingProtection, reason });
        logger.info('lease released', { leaseId: lease.leaseId, keys: lease.keys.length, withSlashingProtection: slashingProtection !== null, reason });
        return true;
      } catch (error) {
        const remainingMs = this.deadlineMs - clock.monotonicMs();
        const refused = error instanceof CoordinatorCallError && error.isRefusal;
        if (refused && error.refusalCode === 'INVALID_INTERCHANGE' && slashingProtection !== null) {
          // The keys are out of the client; without the protection they merely cool down first.
          logger.warn('the coordinator refused the slashing protection; releasing without it', { error: describe(error) });
          slashingProtection = null;
          continue;
        }
        if (refused || remainingMs <= retryMs) {
          // The keys are gone from this pod already; the lease will expire and the keys cool down.
          logger.warn('release failed; the lease will expire on its own', { leaseId: lease.leaseId, error: describe(error) });
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
  }

  private async run(): Promise<void> {
    try {
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
        const claimed = await client.claim(podName, pool, keyCount, this.options.requestTimeoutMs);
        if (claimed.keys.length !== keyCount) throw new AgentError('CLAIM_MISMATCH', `coordinator granted ${claimed.keys.length} keys instead of ${keyCount}`);
        this.lease = claimed;
        this.deadlineMs = sentAt + claimed.leaseTtlMs - this.marginMs(claimed.leaseTtlMs);
        this.armFenceTimer();
        try {
          await this.options.holder.install(claimed.keys);
        } catch (error) {
          // The client would not take the keys (or cannot be reached): give them back and try again later.
          logger.warn('handing the keys to the validator client failed; giving them back', { error: describe(error) });
          await this.fence('install_failed', 'the validator client did not take the keys');
          await this.sleep(retryMs);
          retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
          continue;
        }
        if (clock.monotonicMs() >= this.deadlineMs) {
          await this.fence('install_slow', 'writing keys took longer than the lease allows');
          continue;
        }
        this.options.observer?.onClaim('granted');
        logger.info('keys claimed and written', { leaseId: claimed.leaseId, keys: claimed.keys.length, leaseTtlMs: claimed.leaseTtlMs, to: this.options.holder.name });
        this.setPhase('holding');
        return true;
      } catch (error) {
        this.options.observer?.onClaim(error instanceof CoordinatorCallError && error.isRefusal ? 'refused' : 'failed');
        if (error instanceof CoordinatorCallError && error.refusalCode && FATAL_REFUSALS.has(error.refusalCode)) {
          throw new AgentError('CLAIM_REFUSED', `the coordinator refused the claim: ${error.message}`);
        }
        if (error instanceof CoordinatorCallError && error.refusalCode === 'AWAITING_DEPOSITS') logger.info('waiting for deposits', { reason: error.message });
        else if (error instanceof CoordinatorCallError && error.refusalCode === 'PREVIOUS_POD_HOLDS_LEASE') logger.warn('waiting for the lease of the pod this one replaced to end', { reason: error.message });
        else if (error instanceof CoordinatorCallError && error.status === status.RESOURCE_EXHAUSTED) logger.warn('waiting for free keys', { reason: error.message });
        else logger.warn('claim failed; retrying', { error: describe(error), retryInMs: retryMs });
        await this.sleep(retryMs);
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
    return false;
  }

  private async holdAndRenew(): Promise<void> {
    const { client, podName, logger, clock } = this.options;
    while (!this.stopping && this.lease && this.phase === 'holding') {
      const ttlMs = this.lease.leaseTtlMs;
      await this.sleep((ttlMs / 3) * (1 - RENEW_JITTER * Math.random()));
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
          const renewed = await client.renew(podName, this.lease.leaseId, Math.min(this.options.requestTimeoutMs, Math.max(1, remainingMs / 3)));
          this.options.observer?.onRenewal('ok', (clock.monotonicMs() - sentAt) / 1000);
          // Only a renewal sent before the fence can extend the deadline.
          if (this.phase !== 'holding') return;
          this.deadlineMs = sentAt + renewed.leaseTtlMs - this.marginMs(renewed.leaseTtlMs);
          this.armFenceTimer();
          logger.debug('lease renewed', { leaseId: this.lease.leaseId, msToFence: Math.round(this.deadlineMs - clock.monotonicMs()) });
          break;
        } catch (error) {
          this.options.observer?.onRenewal('failed', (clock.monotonicMs() - sentAt) / 1000);
          if (error instanceof CoordinatorCallError && error.refusalCode === 'LEASE_NOT_FOUND') {
            await this.fence('lease_unknown', 'the coordinator no longer knows the lease');
            return;
          }
          logger.warn('renewal failed; retrying until the fence deadline', { error: describe(error), msToFence: Math.round(remainingMs) });
          // Sent on to the leader, or on to the next replica after a dead or leaderless one: ask there at
          // once, up to one round of the replicas; waiting first only spends the time left on the lease.
          if (client.endpoint !== askedEndpoint && switchesWithoutPause < client.endpointCount) {
            switchesWithoutPause++;
            continue;
          }
          switchesWithoutPause = 0;
          // Several attempts must fit before the deadline, however far the backoff has grown.
          const leftMs = Math.max(0, this.deadlineMs - clock.monotonicMs());
          await this.sleep(Math.min(retryMs, leftMs / 4));
          retryMs = Math.min(MAX_RENEW_RETRY_MS, retryMs * 2);
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
    const lease = this.lease;
    this.lease = null;
    this.setPhase('fenced');
    this.options.observer?.onFence(cause);
    this.wake?.();
    let removal = await this.removeKeys();
    while (removal === null && !this.stopping) {
      await new Promise((resolve) => setTimeout(resolve, MIN_RETRY_MS * 4));
      removal = await this.removeKeys();
    }
    if (removal === null) return;
    this.options.logger.warn('fenced: keys removed', { reason, cause, leaseId: lease?.leaseId ?? null });
    if (lease && this.deadlineMs > this.options.clock.monotonicMs()) await this.release(lease, removal.slashingProtection, 'fenced');
  }

  private armFenceTimer(): void {
    this.clearFenceTimer();
    const delay = Math.max(0, this.deadlineMs - this.options.clock.monotonicMs());
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
