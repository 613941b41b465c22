import type { Logger } from '../../shared/log/logger.js';

/** Subscribers of one kind of event; a failing subscriber is logged and does not stop the others. */
export class Listeners<T> {
  private readonly listeners = new Set<(event: T) => void>();

  constructor(
    private readonly what: string,
    private readonly logger: Logger,
  ) {}

  /** Returns the unsubscribe. */
  add(listener: (event: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: T): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.error(`${this.what} listener failed`, { error });
      }
    }
  }
}
