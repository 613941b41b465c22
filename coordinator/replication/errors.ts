import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import { withoutStack } from '../../shared/errors/without-stack.js';

/** Storage that cannot be trusted: refused at start, never silently rebuilt. */
export class StorageError extends KeyleaseError {
  constructor(code: 'STORAGE_CORRUPT' | 'STORAGE_VERSION' | 'STORAGE_IO', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export class LogClosedError extends KeyleaseError {
  constructor() {
    super('LOG_CLOSED', 'the replicated log is shutting down: retry against another replica or after restart');
  }
}

/** The request was not applied and will not be: this replica does not lead (or lost the entry's index). */
export class NotLeaderError extends KeyleaseError {
  constructor(readonly leaderHint: string | null) {
    super('NOT_LEADER', leaderHint ? `this replica is not the leader: use ${leaderHint}` : 'this replica is not the leader and knows of none yet: retry shortly');
  }

  /**
   * Without a stack: a follower refuses a whole fleet's calls across a failover, and capturing a stack
   * for each took 7 % of a follower's time there (bench:fleet, 10,000 pods).
   */
  static of(leaderHint: string | null): NotLeaderError {
    return withoutStack(() => new NotLeaderError(leaderHint));
  }
}
