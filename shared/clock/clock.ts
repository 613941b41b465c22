/**
 * Time enters the program through this, so tests and simulations can drive it.
 * `monotonicMs` measures durations (never jumps); `wallMs` stamps records people read.
 */
export interface Clock {
  monotonicMs(): number;
  wallMs(): number;
}

export const systemClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
};
