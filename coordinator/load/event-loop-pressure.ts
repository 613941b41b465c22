import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Whether this process is short of CPU, judged by its event loop's delay (how late timers fire): the
 * loop that answers renewals is the one that must not queue. Background work (key derivation, deposit
 * and quarantine rounds, pages that read a large pool) asks `shouldShed` and slows down while it is
 * true (one derivation thread, a round every few seconds, a 503 for the page), so renewals keep what
 * CPU there is and the background work still progresses under sustained load. Hysteresis keeps it from flapping: pressure starts when a window's p99 delay passes
 * `enterMs` and ends only when a window's p99 is below half of that.
 */
export class EventLoopPressure {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private pressed = false;
  private p99Ms = 0;
  /** Times background work was held back, by kind. */
  readonly shed = new Map<string, number>();

  constructor(
    private readonly enterMs: number,
    windowMs: number,
    private readonly onChange: (underPressure: boolean, p99Ms: number) => void = () => {},
  ) {
    if (!(enterMs > 0) || !(windowMs > 0)) throw new RangeError('event loop pressure needs a positive threshold and window');
    this.histogram = monitorEventLoopDelay({ resolution: 10 });
    this.histogram.enable();
    this.timer = setInterval(() => this.sample(), windowMs);
    this.timer.unref();
  }

  get underPressure(): boolean {
    return this.pressed;
  }

  /** The p99 event loop delay of the last window, in milliseconds. */
  get delayP99Ms(): number {
    return this.p99Ms;
  }

  /** True (and counted under `kind`) when background work of that kind should wait. */
  shouldShed(kind: string): boolean {
    if (!this.pressed) return false;
    this.shed.set(kind, (this.shed.get(kind) ?? 0) + 1);
    return true;
  }

  close(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private sample(): void {
    // The histogram's unit is nanoseconds; an empty window (no sample yet) reads as no delay.
    this.p99Ms = this.histogram.count > 0 ? this.histogram.percentile(99) / 1e6 : 0;
    this.histogram.reset();
    const next = this.pressed ? this.p99Ms >= this.enterMs / 2 : this.p99Ms > this.enterMs;
    if (next !== this.pressed) {
      this.pressed = next;
      this.onChange(next, this.p99Ms);
    }
  }
}

/** A periodic background round that, under CPU pressure, runs at most once every `minIntervalMs`. */
export class SheddableRounds {
  private lastRunMs = -Infinity;

  constructor(
    private readonly pressure: EventLoopPressure,
    private readonly kind: string,
    private readonly minIntervalMs: number,
  ) {}

  async run(round: () => Promise<void>): Promise<void> {
    const now = performance.now();
    if (now - this.lastRunMs < this.minIntervalMs && this.pressure.shouldShed(this.kind)) return;
    this.lastRunMs = now;
    await round();
  }
}
