import { KeyleaseError } from '../../shared/errors/keylease-error.js';

/** The leader has as many claims in flight as it takes: this one was not started, and may be retried. */
export class ClaimsBusyError extends KeyleaseError {
  constructor(inFlight: number) {
    super('COORDINATOR_BUSY', `the leader is working on ${inFlight} claims already and took no part of this one: retry the claim in a moment`);
  }
}

/**
 * Bounds the claims a leader works on at once. Past the bound a claim is refused at once, unstarted,
 * rather than queued: a fleet starting together would otherwise queue claims past their lease's
 * deadline (agents then fence what they were just given and claim again), and the queue would take
 * the CPU that renewals need. The bound is asked afresh each time, so CPU pressure can lower it.
 */
export class ClaimAdmission {
  private inFlight = 0;

  constructor(private readonly limit: () => number) {}

  async run<T>(claim: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.limit()) throw new ClaimsBusyError(this.inFlight);
    this.inFlight++;
    try {
      return await claim();
    } finally {
      this.inFlight--;
    }
  }
}
