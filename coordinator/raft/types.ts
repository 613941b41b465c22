/**
 * The data a Raft node exchanges with its driver: entries, durable state, messages and the Ready batch.
 * Everything is plain data, so a driver can serialise it as it likes and a simulator can copy it.
 */
import type { SnapshotData } from './snapshot-data.js';

export type { SnapshotData };

export type NodeId = string;

/** `noop` is the entry a new leader appends so that it can commit in its own term (dissertation §3.6.2). */
export type EntryType = 'normal' | 'noop' | 'confChange';

export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  /** Opaque to Raft for `normal`; an encoded ConfChangeRecord for `confChange`; empty for `noop`. */
  readonly data: string;
}

/**
 * The driver's durable log, from which a node reads back the entries it dropped from memory (RaftLog).
 * Only entries that are durable, committed and applied are dropped, and never any a snapshot covers.
 */
export interface DurableEntries {
  /** Entries [from, through], in order; synchronous, so the node stays a step function. */
  read(from: number, through: number): readonly Entry[];
  /** How much of the newest applied entries stays in memory (data characters, plus 64 an entry), for followers that lag a little. */
  readonly memoryTailChars: number;
}

/** What must be durable before this node may answer anyone (Raft figure 2, "persistent state"). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** A cluster membership. Learners receive the log but never vote and never count toward a quorum. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMeta {
  /** The last entry the snapshot covers, and its term: the new log's starting point. */
  readonly index: number;
  readonly term: number;
  /** The membership as of `index`, since the entries that defined it are gone. */
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's state machine at `meta.index`, opaque to Raft. */
  readonly data: SnapshotData;
}

/** What a replica found on its disk at start. A fresh replica passes an empty log and term 0. */
export interface RecoveredState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** The durable entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
}

export type ConfChangeType = 'addLearner' | 'promoteLearner' | 'removeNode';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state the application may want to watch (who leads); not persisted. */
export interface SoftState {
  readonly lead: NodeId | null;
  readonly role: Role;
}

/** A read that may be served once the local state machine has applied `index`. */
export interface ReadState {
  readonly ctx: string;
  readonly index: number;
}

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** AppendEntries. `index`/`logTerm` name the entry just before `entries`. */
export interface AppendMessage extends MessageBase {
  readonly type: 'append';
  readonly index: number;
  readonly logTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * On success `index` is the follower's last entry known to match the leader. On reject `index` echoes
 * the rejected prevIndex and `rejectHint`/`hintTerm` name the follower's last entry whose term is ≤ the
 * leader's prevLogTerm, so the leader can skip a whole term per round trip instead of one entry.
 */
export interface AppendResponseMessage extends MessageBase {
  readonly type: 'appendResponse';
  readonly reject: boolean;
  readonly index: number;
  readonly rejectHint: number;
  readonly hintTerm: number;
}

/**
 * Carries no entries: it asserts leadership, tells the follower how far it may commit (never past what
 * the leader knows it has), and, when `ctx` is set, confirms leadership for pending ReadIndex requests.
 */
export interface HeartbeatMessage extends MessageBase {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly ctx: string | null;
  /** The leader's heartbeat round, echoed in the answer: a quorum's answers to round r start its lease. Absent from older replicas. */
  readonly round?: number;
}

export interface HeartbeatResponseMessage extends MessageBase {
  readonly type: 'heartbeatResponse';
  readonly ctx: string | null;
  readonly round?: number;
}

/**
 * RequestVote and its pre-vote twin. A pre-vote carries the term the sender *would* campaign in; the
 * sender's real term is unchanged. `transfer` marks the campaign of a leadership transfer, which
 * followers honour even while they still hear from the old leader.
 */
export interface VoteMessage extends MessageBase {
  readonly type: 'vote' | 'preVote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly transfer: boolean;
}

export interface VoteResponseMessage extends MessageBase {
  readonly type: 'voteResponse' | 'preVoteResponse';
  readonly reject: boolean;
}

/**
 * One chunk of InstallSnapshot. `offset` is where `data` starts in the whole snapshot data; `done`
 * marks the last chunk. The follower keys its buffer by (meta.index, meta.term), so a transfer of a
 * newer snapshot, or one restarted at offset 0, starts over.
 */
export interface SnapshotChunkMessage extends MessageBase {
  readonly type: 'snapshotChunk';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly data: string;
  readonly done: boolean;
}

/** `received` is how much of the snapshot the follower holds: the offset of the chunk it wants next. */
export interface SnapshotChunkResponseMessage extends MessageBase {
  readonly type: 'snapshotChunkResponse';
  readonly snapshotIndex: number;
  readonly received: number;
}

/** Sent by a leader to a caught-up transfer target: campaign now, without waiting for a timeout. */
export interface TimeoutNowMessage extends MessageBase {
  readonly type: 'timeoutNow';
}

export type Message =
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | SnapshotChunkMessage
  | SnapshotChunkResponseMessage
  | TimeoutNowMessage;

/**
 * Everything the node wants done since the last advance(). The driver must, in this order:
 *  1. Send `messages` (it may do so while 2 is still running).
 *  2. Persist, as ONE atomic batch: `snapshot` (replacing the whole durable log), then `entries`
 *     (deleting every durable entry with index ≥ entries[0].index first: this is how a conflicting
 *     suffix is truncated), then `hardState`.
 *  3. Only when 2 is durable, send `messagesAfterPersist`.
 *  4. Install `snapshot` into the state machine, then apply `committedEntries` in order; serve each
 *     `readStates` request once the state machine has applied its index. This step may also come
 *     first, before 2 completes: committed entries are durable on a quorum whatever this node's disk
 *     does (etcd's leader applies in parallel with its own write too).
 *  5. Call advance(ready).
 */
export interface Ready {
  /** Set when the leader or this node's role changed. */
  readonly softState: SoftState | null;
  /** Set when term, vote or commit changed. */
  readonly hardState: HardState | null;
  /** Entries to make durable; they replace any durable entries from entries[0].index on. */
  readonly entries: readonly Entry[];
  /** A snapshot received from the leader, to persist and install. */
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  /**
   * A leader's replication traffic (appends, heartbeats, snapshot chunks, TimeoutNow) and a follower's
   * heartbeat responses: none of it claims anything about this node's log, so it may leave before this
   * Ready is durable (RaftNode.takeMessages hands it over even sooner); the leader counts its own
   * entries toward a quorum only after advance() (dissertation §10.2.1). Its term must be durable
   * already: when it is not (a single voter elects itself within one Ready), it goes to
   * messagesAfterPersist instead.
   */
  readonly messages: readonly Message[];
  /**
   * Everything else: vote requests (the candidate's term and self-vote must be durable first), vote
   * grants (the vote must be durable, or a restart could vote twice in a term), append and snapshot
   * acknowledgements (the acknowledged entries must be durable), and all other replies.
   */
  readonly messagesAfterPersist: readonly Message[];
  readonly readStates: readonly ReadState[];
}

export type RefusalCode =
  | 'NOT_LEADER'
  | 'TRANSFER_IN_PROGRESS'
  | 'CONF_CHANGE_PENDING'
  | 'NOT_COMMITTED_IN_TERM'
  | 'INVALID_CONF_CHANGE'
  | 'INVALID_TRANSFER';

/** Why the node would not take a request now. `lead` tells the caller where to go instead, if known. */
export interface RaftRefusal {
  readonly code: RefusalCode;
  readonly message: string;
  readonly lead: NodeId | null;
}

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly refusal: RaftRefusal };

export type RaftRequestResult = { readonly ok: true } | { readonly ok: false; readonly refusal: RaftRefusal };

/** The node was handed something that can only come from a bug or from broken storage. */
export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
}
