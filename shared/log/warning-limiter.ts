import type { Clock } from '../clock/clock.js';
import type { LogFields, Logger } from './logger.js';

/**
 * Warnings that repeat every round (an empty wallet, an unreachable node) written at most once per cause
 * per interval: the first at once, then one line per interval carrying how often it happened since
 * the last line (`repeated`), so the log stays readable and the count stays true.
 */
export class WarningLimiter {
  private readonly causes = new Map<string, { lastLoggedMs: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly intervalMs = 60_000,
  ) {}

  warn(cause: string, msg: string, fields: LogFields = {}): void {
    const nowMs = this.clock.monotonicMs();
    const seen = this.causes.get(cause);
    if (seen && nowMs - seen.lastLoggedMs < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    this.logger.warn(msg, { ...fields, cause, ...(seen ? { repeated: seen.suppressed + 1, sinceMs: Math.round(nowMs - seen.lastLoggedMs) } : {}) });
    this.causes.set(cause, { lastLoggedMs: nowMs, suppressed: 0 });
  }
}
