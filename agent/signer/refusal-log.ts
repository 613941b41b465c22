import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';

/**
 * Logs refused sign requests once per cause and then at most once per window, with a count, so a
 * validator client retrying a refused duty every slot does not flood the log.
 */
export class RefusalLog {
  private readonly causes = new Map<string, { lastLoggedMs: number; total: number; unlogged: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly windowMs: number,
  ) {}

  /** `fields` must hold nothing secret: public keys, message types and statuses only. */
  note(cause: string, message: string, fields: Record<string, unknown>): void {
    const now = this.clock.monotonicMs();
    const entry = this.causes.get(cause);
    if (entry) {
      entry.total += 1;
      if (now - entry.lastLoggedMs < this.windowMs) {
        entry.unlogged += 1;
        return;
      }
      this.emit(cause, message, fields, entry.total, entry.unlogged);
      entry.lastLoggedMs = now;
      entry.unlogged = 0;
      return;
    }
    this.causes.set(cause, { lastLoggedMs: now, total: 1, unlogged: 0 });
    this.emit(cause, message, fields, 1, 0);
  }

  private emit(cause: string, message: string, fields: Record<string, unknown>, total: number, unlogged: number): void {
    const level = cause === 'SIGNER_STATE' || cause === 'internal' ? 'error' : 'warn';
    this.logger[level]('sign request refused', { cause, ...fields, reason: message, refusalsOfThisCause: total, notLoggedSinceLast: unlogged });
  }
}
