/**
 * What the lease loop tells whoever watches it (the agent's metrics, a benchmark's tally). Its own
 * module so that the loop and its observers depend on it rather than on each other.
 */

/** Why an agent took its keys away: a short, fixed label per cause, for alerts and dashboards. */
export const FENCE_CAUSES = ['deadline', 'lease_unknown', 'install_failed', 'install_slow', 'error'] as const;
export type FenceCause = (typeof FENCE_CAUSES)[number];

/** What the lease loop reports as it goes. */
export interface LeaseLoopObserver {
  onClaim(outcome: 'granted' | 'refused' | 'failed'): void;
  /** `msToFence`: what was left before the fence deadline when the answer came (before a renewal extends it). */
  onRenewal(outcome: 'ok' | 'failed', seconds: number, msToFence: number): void;
  onFence(cause: FenceCause): void;
}
