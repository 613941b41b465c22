import { KeyleaseError } from '../../shared/errors/keylease-error.js';

/** The leader has as many claims in flight as it takes: this one was not started, and may be retried. */
export class ClaimsBusyError extends KeyleaseError {
  constructor(inFlight: number) {
    super('COORDINATOR_BUSY', `the leader is working on claims for ${inFlight} keys already and took no part of this one: retry the claim in a moment`);
  }
}

interface Waiter {
  readonly weight: number;
  readonly admit: () => void;
  readonly refuse: () => void;
  /** On performance.now(); waiters join in order with the same wait, so deadlines ascend. */
  readonly deadline: number;
}

/** How often the waiters whose time is up are refused (one timer for all of them). */
const SWEEP_MS = 50;

/**
 * Bounds the keys a leader works on at once (a claim weighs the keys it asks for: answering one opens
 * each key and builds its protection, so fifty keys cost fifty times one). Past the bound a claim waits for a place, first come
 * first served, for at most `maxWaitMs` (a share of the lease TTL, so an answer never comes so late
 * that the agent's first renewal is due at once); then it is refused, unstarted, and the agent retries
 * later. Waiting costs no CPU, where each refusal and retry costs a request: when ten thousand pods start
 * together, refusing at once turned the claims into a storm of retries that took the CPU renewals and
 * heartbeats need. The bounds are asked afresh each time, so CPU pressure can lower them.
 */
export class ClaimAdmission {
  private inFlight = 0;
  private readonly waiting: Waiter[] = [];
  private head = 0;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly limit: () => number,
    private readonly maxWaitMs: () => number = () => 0,
    /** Claims that may wait at once; more are refused at once. */
    private readonly maxWaiting = 10_000,
  ) {}

  /** `weight`: the keys the claim asks for. */
  async run<T>(claim: () => Promise<T>, weight = 1): Promise<T> {
    // A waiter is counted in flight by admitNext, when its place is given; none jumps the line.
    if (this.head < this.waiting.length || !this.fits(weight)) await this.waitForPlace(weight);
    else this.inFlight += weight;
    try {
      return await claim();
    } finally {
      this.inFlight -= weight;
      this.admitNext();
    }
  }

  /** A claim heavier than the whole bound still runs, alone. */
  private fits(weight: number): boolean {
    return this.inFlight === 0 || this.inFlight + weight <= this.limit();
  }

  private waitForPlace(weight: number): Promise<void> {
    const waitMs = this.maxWaitMs();
    if (!(waitMs > 0) || this.waiting.length - this.head >= this.maxWaiting) return Promise.reject(new ClaimsBusyError(this.inFlight));
    return new Promise<void>((admit, reject) => {
      this.waiting.push({ weight, admit, refuse: () => reject(new ClaimsBusyError(this.inFlight)), deadline: performance.now() + waitMs });
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
    });
  }

  private admitNext(): void {
    while (this.head < this.waiting.length && this.fits(this.waiting[this.head]!.weight)) {
      const waiter = this.waiting[this.head++]!;
      this.inFlight += waiter.weight;
      waiter.admit();
    }
    this.compact();
  }

  private sweep(): void {
    const now = performance.now();
    while (this.head < this.waiting.length && this.waiting[this.head]!.deadline <= now) this.waiting[this.head++]!.refuse();
    this.compact();
  }

  /** Drops the waiters already admitted or refused; stops the sweep when none wait. */
  private compact(): void {
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
