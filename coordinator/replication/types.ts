import type { Command, CommandOutcomes, ReadonlyCoreState, Result } from '../core/index.js';

/** One committed command and what the state machine answered, in log order. */
export interface AppliedEntry {
  readonly index: number;
  readonly command: Command;
  readonly result: Result<CommandOutcomes[Command['type']]>;
}

/**
 * Everything above the core talks to the replicated state only through this. The single-replica log
 * implements it now; the Raft log replaces it without changes above.
 */
export interface ReplicatedLog {
  /** Appends the command durably, applies it, and answers with the state machine's result. */
  propose<C extends Command>(command: C): Promise<Result<CommandOutcomes[C['type']]>>;
  /** Runs `query` against a state that includes every command acknowledged before the call. */
  read<T>(query: (state: ReadonlyCoreState) => T): Promise<T>;
  /**
   * Runs `query` against this replica's applied state as it is now, which may lag the latest commits.
   * Only for planning a proposal whose every condition the core checks again when it applies (which
   * keys to derive, whether the arguments are sane): never for an answer. It saves a quorum round.
   */
  peek<T>(query: (state: ReadonlyCoreState) => T): T;
  /** Whether this replica may answer claims, renewals and expiries now. */
  isLeader(): boolean;
  /**
   * Whether this leader may answer from memory now, without a quorum round: no other replica can have
   * been elected since a quorum last confirmed it. When false, confirm with read() before answering.
   */
  leaderLeaseHeld(): boolean;
  /**
   * Called on every agent request: a replicated log that runs on a timer sends a leader's heartbeats now
   * if they are late. Requests read in one turn of the event loop all run before any timer, and under a
   * storm of them a leader's heartbeats came late enough for followers to elect another.
   */
  keepTime?(): void;
  /** Where agents reach the leader (its advertised agent endpoint), or null while none is known. */
  leaderHint(): string | null;
  onApplied(listener: (entry: AppliedEntry) => void): () => void;
  onLeadershipChange(listener: (isLeader: boolean) => void): () => void;
  /** Waits for in-flight proposals, then closes storage. Later calls fail with LogClosedError. */
  close(): Promise<void>;
}
