import { withoutStack } from '../../shared/errors/without-stack.js';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import { CompletionRate } from './completion-rate.js';

/**
 * The leader has as many claims in flight as it takes: this one was not started, and may be retried,
 * best after `retryAfterMs` (the time the leader expects to have room for it).
 */
export class ClaimsBusyError extends KeyleaseError {
  constructor(
    inFlight: number,
    readonly retryAfterMs: number,
  ) {
    super('COORDINATOR_BUSY', `the leader is working on claims for ${inFlight} keys already and took no part of this one: retry the claim in about ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

interface Waiter {
  readonly weight: number;
  readonly admit: () => void;
  readonly refuse: () => void;
  /** On the admission's clock; waiters join in order with the same wait, so deadlines ascend. */
  readonly deadline: number;
}

/** How often the waiters whose time is up are refused (one timer for all of them). */
const SWEEP_MS = 50;
/** Retry times are planned once claims have waited this long in all, by what finished meanwhile. */
const RATE_WINDOW_MS = 1000;
/** A refused claim is told to come back after this at least, and at most after the longer one. */
const MIN_RETRY_AFTER_MS = 250;
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Bounds the keys a leader works on at once (a claim weighs the keys it asks for: answering one opens
 * each key and builds its protection, so fifty keys cost fifty times one). Past the bound a claim waits
 * for a place, first come first served, for at most `maxWaitMs` (a share of the lease TTL, so an answer
 * never comes so late that the agent's first renewal is due at once).
 *
 * A claim that would wait longer is refused at once, unstarted, and told when to come back: the refused
 * are given return times one after another at the rate claims are finishing, so a fleet that starts
 * together comes back spread over the time the leader needs to serve it. Refusing without a time (each
 * agent backing off on its own) made ten thousand pods a storm of retries that took the CPU renewals and
 * heartbeats need. The bounds are asked afresh each time, so CPU pressure can lower them.
 */
export class ClaimAdmission {
  private inFlight = 0;
  private readonly waiting: Waiter[] = [];
  private head = 0;
  /** Keys the waiting claims ask for. */
  private waitingWeight = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly finished: CompletionRate;
  /** Return times already given out reach this far: the next refused claim is told to come back after it. */
  private promisedUntil = -Infinity;

  constructor(
    private readonly limit: () => number,
    private readonly maxWaitMs: () => number = () => 0,
    /** Claims that may wait at once; more are refused at once. */
    private readonly maxWaiting = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.finished = new CompletionRate(RATE_WINDOW_MS, now);
  }

  /** `weight`: the keys the claim asks for. */
  async run<T>(claim: () => Promise<T>, weight = 1): Promise<T> {
    // A waiter is counted in flight by admitNext, when its place is given; none jumps the line.
    if (this.head < this.waiting.length || !this.fits(weight)) await this.waitForPlace(weight);
    else this.inFlight += weight;
    try {
      return await claim();
    } finally {
      this.inFlight -= weight;
      this.finished.record(weight);
      this.admitNext();
    }
  }

  /** A claim heavier than the whole bound still runs, alone. */
  private fits(weight: number): boolean {
    return this.inFlight === 0 || this.inFlight + weight <= this.limit();
  }

  private waitForPlace(weight: number): Promise<void> {
    const waitMs = this.maxWaitMs();
    const keysPerMs = this.finished.perMs();
    // Everything in line goes first, at the rate claims finish: past the wait allowed, waiting is no use.
    const expectedWaitMs = keysPerMs === null ? 0 : (this.waitingWeight + weight) / keysPerMs;
    if (!(waitMs > 0) || this.waiting.length - this.head >= this.maxWaiting || expectedWaitMs > waitMs) return Promise.reject(this.refusal(weight));
    return new Promise<void>((admit, reject) => {
      this.waiting.push({ weight, admit, refuse: () => reject(this.refusal(weight)), deadline: this.now() + waitMs });
      this.waitingWeight += weight;
      this.finished.setBusy(true);
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
    });
  }

  /**
   * Refuses a claim, with the time to come back: after the line now waiting and after every claim refused
   * before it, at the rate claims finish (the wait allowed, while that rate is not known yet).
   */
  private refusal(weight: number): ClaimsBusyError {
    const now = this.now();
    const keysPerMs = this.finished.perMs();
    let retryAfterMs = Math.max(this.maxWaitMs(), MIN_RETRY_AFTER_MS);
    if (keysPerMs !== null) {
      const comeBackAt = Math.max(this.promisedUntil, now + (this.waitingWeight + this.inFlight) / keysPerMs);
      this.promisedUntil = comeBackAt + weight / keysPerMs;
      retryAfterMs = comeBackAt - now;
    }
    return withoutStack(() => new ClaimsBusyError(this.inFlight, Math.round(Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, retryAfterMs)))));
  }

  private admitNext(): void {
    while (this.head < this.waiting.length && this.fits(this.waiting[this.head]!.weight)) {
      const waiter = this.waiting[this.head++]!;
      this.waitingWeight -= waiter.weight;
      this.inFlight += waiter.weight;
      waiter.admit();
    }
    this.compact();
  }

  private sweep(): void {
    const now = this.now();
    while (this.head < this.waiting.length && this.waiting[this.head]!.deadline <= now) {
      const waiter = this.waiting[this.head++]!;
      this.waitingWeight -= waiter.weight;
      waiter.refuse();
    }
    this.compact();
  }

  /** Drops the waiters already admitted or refused; stops the sweep when none wait. */
  private compact(): void {
    this.finished.setBusy(this.head < this.waiting.length);
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
      if (this.sweeper) clearInterval(this.sweeper);
      this.sweeper = null;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
  }
}
