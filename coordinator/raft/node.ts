import { RaftLog } from './log.js';
import { EMPTY_CONF_STATE, encodeConfChange, MembershipHistory, type Membership } from './membership.js';
import { Progress } from './progress.js';
import { ReadOnlyQueue } from './read-only.js';
import type { SnapshotData } from './snapshot-data.js';
import { SnapshotAssembler, snapshotChunk } from './snapshot-transfer.js';
import {
  RaftInvariantError,
  type AppendMessage,
  type AppendResponseMessage,
  type ConfChange,
  type ConfState,
  type DurableEntries,
  type Entry,
  type EntryType,
  type HardState,
  type HeartbeatMessage,
  type HeartbeatResponseMessage,
  type Message,
  type NodeId,
  type ProposeResult,
  type RaftRefusal,
  type RaftRequestResult,
  type ReadState,
  type Ready,
  type RecoveredState,
  type RefusalCode,
  type Role,
  type Snapshot,
  type SnapshotChunkMessage,
  type SnapshotChunkResponseMessage,
  type SnapshotMeta,
  type SoftState,
  type VoteMessage,
  type VoteResponseMessage,
} from './types.js';

export interface RaftNodeOptions {
  readonly id: NodeId;
  /**
   * The initial configuration of a new cluster. A member starting with empty storage writes it as
   * entry 1 (term 1, committed), identical on every initial member, as etcd does: every log then records
   * the configuration from the start, and a node joining later learns it from the log like any other.
   * A joining node passes no peers. Ignored when the storage holds state.
   */
  readonly peers: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  /** A follower campaigns after a random number of ticks in [electionTicks, 2·electionTicks). */
  readonly electionTicks: number;
  /**
   * Used instead of electionTicks (in the same way) while the transport reports the leader's connection
   * up (peerConnection): a live process that stopped sending for a while (a long garbage collection, a
   * starved CPU) is waited for longer than one whose connection closed. It bounds both when a follower
   * campaigns and how long it ignores other campaigns. Defaults to electionTicks.
   */
  readonly stalledLeaderTicks?: number;
  readonly heartbeatTicks: number;
  /** Uniform in [0, 1); injected so that a simulation replays exactly. */
  readonly random: () => number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Unacknowledged appends per follower in replicate state. */
  readonly maxInflightMsgs: number;
  readonly maxEntriesPerMsg: number;
  /** Characters of snapshot data per InstallSnapshot chunk. */
  readonly snapshotChunkSize: number;
  readonly storage: RecoveredState;
  /** Where entries dropped from memory are read back; without it the log keeps every entry until compaction. */
  readonly durableEntries?: DurableEntries;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly lead: NodeId | null;
  readonly role: Role;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly transferee: NodeId | null;
}

/** Ticks an election takes once a campaign starts: the (pre-)vote round trips, then the new leader's first heartbeat. */
const ELECTION_ROUND_TICKS = 2;

const REPLICATION_TYPES: ReadonlySet<Message['type']> = new Set(['append', 'heartbeat', 'snapshotChunk', 'timeoutNow']);

/**
 * One Raft participant as a pure state machine, in the shape of etcd's raft: the driver feeds it
 * time (tick), messages (step) and requests, and carries out what ready() asks (persist, send, apply).
 * Nothing here blocks or reads a clock, so every check-and-change is atomic and a simulation can run
 * many nodes in one process deterministically.
 *
 * Membership changes are single-server and take effect when the entry is appended to a node's log
 * (dissertation §4.1), not when applied; a node falls back to the earlier configuration if the entry is
 * overwritten. At most one change may be uncommitted, and only after the leader committed in its term.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly opts: RaftNodeOptions;
  private term: number;
  private vote: NodeId | null;
  private lead: NodeId | null = null;
  private role: Role = 'follower';
  private readonly log: RaftLog;
  private readonly membership: MembershipHistory;
  /** The newest snapshot this node holds, sent to followers whose entries were compacted. */
  private snapshot: Snapshot | null;
  /** Leader only: one per member, this node included (its match moves only when its entries are durable). */
  private progress = new Map<NodeId, Progress>();
  /** Candidate and pre-candidate: the answers so far (voter → granted). */
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /**
   * Ticks since this node restarted, up to electionTicks. Until then it grants no vote outside a
   * leadership transfer: it may have answered a leader's heartbeat just before it went down, and that
   * leader's lease counts on it not helping to replace the leader for an election timeout.
   */
  private ticksSinceStart = 0;
  /** Heartbeat rounds broadcast by this node, over all its terms (see leaseRound). */
  private heartbeatRound = 0;
  /** A timeoutNow went out in this term: its receiver may win an election at any time, so no lease. */
  private transferSent = false;
  private randomizedElectionTimeout = 0;
  /** Whether the campaign under way is a leadership transfer (its requests pass the voters' stickiness). */
  private campaignIsTransfer = false;
  private leadTransferee: NodeId | null = null;
  /** Peers whose connection the transport reports up (peerConnection). */
  private readonly connectedPeers = new Set<NodeId>();
  /** Peers whose connection the transport reported closed, and not up again since. */
  private readonly closedPeers = new Set<NodeId>();
  private readonly readOnly = new ReadOnlyQueue();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private readsAwaitingTermCommit: string[] = [];
  private readonly snapshotAssembler = new SnapshotAssembler();
  /** Everything through here was applied by the driver (acknowledged by advance, or taken by takeCommittedEntries). */
  private applied: number;
  /** Everything through here was handed to the driver to apply, in a Ready or by takeCommittedEntries. */
  private handedOut: number;
  private messages: Message[] = [];
  private messagesAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private lastSoftState: SoftState;
  private lastHardState: HardState;
  private outstandingReady: Ready | null = null;

  constructor(opts: RaftNodeOptions) {
    this.id = opts.id;
    this.opts = opts;
    const { hardState, snapshot, entries } = opts.storage;
    const snapshotIndex = snapshot?.meta.index ?? 0;
    this.log = new RaftLog(snapshotIndex, snapshot?.meta.term ?? 0, entries, hardState.commit, opts.durableEntries ?? null);
    this.membership = new MembershipHistory(snapshotIndex, snapshot?.meta.confState ?? EMPTY_CONF_STATE, entries);
    this.snapshot = snapshot;
    this.term = hardState.term;
    this.vote = hardState.vote;
    // The driver rebuilt its state machine from the snapshot; committed entries after it are replayed.
    this.applied = snapshotIndex;
    this.handedOut = snapshotIndex;
    this.lastHardState = hardState;
    this.lastSoftState = this.softState();
    const fresh = hardState.term === 0 && snapshot === null && entries.length === 0;
    // A node that never ran answered no heartbeat, so it has no leader's lease to respect.
    if (fresh) this.ticksSinceStart = opts.electionTicks;
    if (fresh && opts.peers.length > 0) this.bootstrap({ voters: [...opts.peers].sort(), learners: [...(opts.learners ?? [])].sort() });
    this.resetElectionTimer();
  }

  /** Writes the initial configuration as entry 1; it goes out, with term 1, in the first Ready. */
  private bootstrap(conf: ConfState): void {
    const entry: Entry = { index: 1, term: 1, type: 'confChange', data: encodeConfChange(null, conf) };
    this.log.append([entry]);
    this.log.commitTo(1);
    this.membership.replaceFrom(1, [entry]);
    this.term = 1;
  }

  // ---------------------------------------------------------------- driver interface

  tick(): void {
    if (this.ticksSinceStart < this.opts.electionTicks) this.ticksSinceStart++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /**
   * Time that passed while this node could not read its messages (a long turn of the driver's event
   * loop): a leader's heartbeats fall due, but no election or check-quorum clock moves, since whatever
   * the followers answered meanwhile is still unread. Other roles ignore it.
   */
  tickHeartbeat(): void {
    if (this.role !== 'leader') return;
    this.heartbeatElapsed++;
    if (this.heartbeatElapsed >= this.opts.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /**
   * The transport's word on `peer`'s connection: up while the peer's stream to this node is open. A
   * follower waits stalledLeaderTicks for a silent leader whose connection is up, electionTicks otherwise.
   */
  peerConnection(peer: NodeId, connected: boolean): void {
    if (connected) {
      this.connectedPeers.add(peer);
      this.closedPeers.delete(peer);
    } else {
      this.connectedPeers.delete(peer);
      this.closedPeers.add(peer);
    }
  }

  /** Not a leader, and no leader to hear from: none known, or the transport reports its connection down. */
  leaderUnreachable(): boolean {
    return this.role !== 'leader' && (this.lead === null || !this.connectedPeers.has(this.lead));
  }

  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader stickiness: while we heard from a live leader within an election timeout, a higher-term
        // campaign comes from a node that could not hear it (a partition, or a removed node); ignore it.
        // A leadership transfer is sanctioned by that leader, so it goes through.
        const inLease = this.opts.checkQuorum && ((this.lead !== null && this.electionElapsed < this.leaderTimeoutTicks()) || this.ticksSinceStart < this.opts.electionTicks);
        if (inLease && !m.transfer) return;
      }
      // A pre-vote, and a granted pre-vote answer, speak of a term nobody has entered yet.
      const futureTermOnly = m.type === 'preVote' || (m.type === 'preVoteResponse' && !m.reject);
      if (!futureTermOnly) {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshotChunk';
        const electionElapsed = this.electionElapsed;
        this.becomeFollower(m.term, fromLeader ? m.from : null);
        // Only a granted vote or a live leader restarts the election timer (figure 2). A candidate
        // whose log is too stale to win must not keep everyone else from campaigning, which it would
        // if its clock runs faster than theirs and each of its campaigns reset their timers.
        if (m.type === 'vote') this.electionElapsed = electionElapsed;
      }
    } else if (m.term < this.term) {
      this.stepStale(m);
      return;
    }

    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshotChunk':
        if (this.role === 'leader') {
          throw new RaftInvariantError(`${this.id} is leader of term ${this.term} and got ${m.type} from ${m.from} in the same term`);
        }
        // A (pre-)candidate that hears from the leader of its term gives up and follows.
        if (this.role !== 'follower' || this.lead === null) this.becomeFollower(this.term, m.from);
        this.electionElapsed = 0;
        if (m.type === 'append') this.handleAppend(m);
        else if (m.type === 'heartbeat') this.handleHeartbeat(m);
        else this.handleSnapshotChunk(m);
        return;
      case 'timeoutNow':
        if (this.role === 'follower' && this.promotable()) this.campaign('election', true);
        return;
      case 'voteResponse':
      case 'preVoteResponse':
        this.handleVoteResponse(m);
        return;
      case 'appendResponse':
        if (this.role === 'leader') this.handleAppendResponse(m);
        return;
      case 'heartbeatResponse':
        if (this.role === 'leader') this.handleHeartbeatResponse(m);
        return;
      case 'snapshotChunkResponse':
        if (this.role === 'leader') this.handleSnapshotChunkResponse(m);
        return;
    }
  }

  /** Appends `data` as a new entry if this node is the leader; the entry may still be lost. */
  propose(data: string): ProposeResult {
    return this.proposeBatch([data]);
  }

  /**
   * Appends one entry per element of `data`, at consecutive indices from the returned `index`, and
   * sends them to the followers together (one append each rather than one per entry).
   */
  proposeBatch(data: readonly string[]): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal) return { ok: false, refusal };
    if (data.length === 0) throw new RaftInvariantError('proposeBatch() needs at least one entry');
    const first = this.log.lastIndex() + 1;
    this.log.append(data.map((d, k) => ({ index: first + k, term: this.term, type: 'normal', data: d })));
    this.broadcastAppend();
    return { ok: true, index: first, term: this.term };
  }

  /** Proposes a single-server membership change. */
  proposeConfChange(change: ConfChange): ProposeResult {
    const refusal = this.proposalRefusal();
    if (refusal) return { ok: false, refusal };
    // A change started before the leader committed in its term could overlap an uncommitted change of an
    // earlier leader that this leader never saw (Ongaro, raft-dev, 2015): the no-op commit rules that out.
    if (!this.committedInCurrentTerm()) return this.refuse('NOT_COMMITTED_IN_TERM', `leader ${this.id} has not yet committed an entry in term ${this.term}; retry shortly`);
    if (this.membership.lastChangeIndex() > this.log.committed) {
      return this.refuse('CONF_CHANGE_PENDING', `the membership change at index ${this.membership.lastChangeIndex()} is not committed yet; retry after it is`);
    }
    if (change.type === 'removeNode' && change.nodeId === this.id) {
      return this.refuse('INVALID_CONF_CHANGE', `${this.id} is the leader; transfer leadership before removing it`);
    }
    const next = this.currentMembership().apply(change);
    if (typeof next === 'string') return this.refuse('INVALID_CONF_CHANGE', `${change.type} ${change.nodeId}: ${next}`);
    const entry = this.appendEntry('confChange', encodeConfChange(change, next));
    this.broadcastAppend();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * Asks for a linearizable read point. The answer comes as a ReadState with this ctx in a later Ready,
   * once a quorum confirmed this node's leadership; before the leader's first commit in its term the
   * request waits, since the commit index may lag what earlier leaders committed. If leadership is lost
   * first, no answer comes and the caller retries (with the new leader, never with a stale index).
   */
  readIndex(ctx: string): RaftRequestResult {
    if (this.role !== 'leader') return this.refuse('NOT_LEADER', `${this.id} is not the leader`);
    if (this.committedInCurrentTerm()) this.startRead(ctx);
    else this.readsAwaitingTermCommit.push(ctx);
    return { ok: true };
  }

  /** The heartbeat rounds this node has broadcast so far; the driver notes when each went out. */
  heartbeatRoundsSent(): number {
    return this.heartbeatRound;
  }

  /**
   * Ticks until, as this node sees it, a leader may next be known: null when it leads. A follower
   * campaigns when its election timer fires, and a round after that a leader can be known. An election
   * under way (it campaigns, or it voted in a term with no leader yet) ends within a round if it
   * succeeds, or an election timeout later if it does not; half a timeout is said. Told to agents refused
   * here, so a fleet waits out an election instead of asking the electing replicas, whose CPU it needs.
   */
  ticksUntilLeaderKnown(): number | null {
    if (this.role === 'leader') return null;
    const electing = this.role !== 'follower' || (this.lead === null && this.vote !== null);
    if (electing) return Math.max(ELECTION_ROUND_TICKS, Math.ceil(this.opts.electionTicks / 2));
    const timeout = this.electionTimeoutTicks();
    return Math.max(0, timeout - this.electionElapsed) + ELECTION_ROUND_TICKS;
  }

  /**
   * The newest heartbeat round a quorum answered in this leader's term, or 0 when this node holds no
   * lease. Every voter that answered round r reset its election clock when it read the heartbeat, and
   * neither campaigns nor helps another campaign for an election timeout after (checkQuorum's
   * stickiness, and ticksSinceStart across its restarts); so no other leader can be elected until an
   * election timeout after r was sent (dissertation §6.4.1), and the driver may answer from memory until
   * then, less a margin for clock drift. A leadership transfer bypasses the stickiness: no lease in a term
   * that sent timeoutNow, or while a transfer is pending.
   */
  leaseRound(): number {
    if (this.role !== 'leader' || !this.opts.checkQuorum || this.transferSent || this.leadTransferee !== null) return 0;
    return this.currentMembership().quorumIndex((id) => (id === this.id ? this.heartbeatRound : (this.progress.get(id)?.heartbeatRoundAcked ?? 0)));
  }

  /** Hands leadership to `to` once its log is caught up; proposals are refused until then. */
  transferLeadership(to: NodeId): RaftRequestResult {
    if (this.role !== 'leader') return this.refuse('NOT_LEADER', `${this.id} is not the leader`);
    if (to === this.id || !this.currentMembership().isVoter(to)) {
      return this.refuse('INVALID_TRANSFER', `${to} is not another voter of the cluster`);
    }
    if (this.leadTransferee === to) return { ok: true };
    this.leadTransferee = to;
    // The transfer is aborted if it has not completed within an election timeout from now.
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
    return { ok: true };
  }

  /**
   * The application holds a snapshot of its state machine at `index` (which it has applied); entries
   * through `index` may be dropped, and followers that need them get `data` instead. Returns the
   * snapshot's metadata, which the driver persists with `data`.
   */
  compact(index: number, data: SnapshotData): SnapshotMeta {
    if (index > this.applied) throw new RaftInvariantError(`cannot compact to ${index}: only ${this.applied} is applied`);
    if (index < this.log.firstIndex()) throw new RaftInvariantError(`cannot compact to ${index}: the log already starts after ${this.log.firstIndex() - 1}`);
    const meta: SnapshotMeta = { index, term: this.log.term(index)!, confState: this.membership.at(index) };
    this.log.compact(index);
    this.membership.compactTo(index);
    this.snapshot = { meta, data };
    return meta;
  }

  hasReady(): boolean {
    if (this.outstandingReady !== null) return false;
    return (
      !sameSoftState(this.softState(), this.lastSoftState) ||
      !sameHardState(this.hardState(), this.lastHardState) ||
      this.log.lastStableIndex() < this.log.lastIndex() ||
      this.log.pendingSnapshot() !== null ||
      this.log.committed > this.handedOut ||
      this.messages.length > 0 ||
      this.messagesAfterPersist.length > 0 ||
      this.readStates.length > 0
    );
  }

  /** What to do next (see Ready for the order). Call advance() with it before asking for another. */
  ready(): Ready {
    if (this.outstandingReady !== null) throw new RaftInvariantError('ready() called again before advance()');
    const softState = this.softState();
    const hardState = this.hardState();
    const snapshot = this.log.pendingSnapshot();
    const applyFrom = snapshot?.meta.index ?? this.handedOut;
    const ready: Ready = {
      softState: sameSoftState(softState, this.lastSoftState) ? null : softState,
      hardState: sameHardState(hardState, this.lastHardState) ? null : hardState,
      entries: this.log.unstableEntries(),
      snapshot,
      committedEntries: this.log.entriesBetween(applyFrom, this.log.committed),
      messages: this.messages,
      messagesAfterPersist: this.messagesAfterPersist,
      readStates: this.readStates,
    };
    this.lastSoftState = softState;
    this.lastHardState = hardState;
    this.handedOut = Math.max(this.handedOut, this.log.committed);
    this.messages = [];
    this.messagesAfterPersist = [];
    this.readStates = [];
    this.outstandingReady = ready;
    return ready;
  }

  /**
   * The messages that depend on nothing durable (Ready.messages), handed over now rather than with the
   * next Ready: a driver still persisting the last Ready can send a leader's appends and a follower's
   * heartbeat responses at once, so disk writes on different replicas overlap.
   */
  takeMessages(): Message[] {
    const messages = this.messages;
    this.messages = [];
    return messages;
  }

  /**
   * Committed entries not handed out yet, for a driver that applies as soon as it learns of a commit
   * instead of with the next Ready (which may wait behind a disk write). They are durable on a quorum,
   * though perhaps not yet here: the driver may compact only through what its own disk holds. A driver
   * that calls this must apply every Ready's committedEntries as soon as it receives the Ready, so that
   * entries are applied in the order they are handed out; they count as applied at once. Nothing is
   * handed out while a received snapshot is not yet installed.
   */
  takeCommittedEntries(): Entry[] {
    if (this.log.pendingSnapshot() !== null) return [];
    const through = this.log.committed;
    if (through <= this.handedOut) return [];
    const entries = this.log.entriesBetween(this.handedOut, through);
    this.handedOut = through;
    this.applied = Math.max(this.applied, through);
    this.log.dropApplied(this.applied);
    return entries;
  }

  /** The driver persisted, sent and applied `ready`. */
  advance(ready: Ready): void {
    if (ready !== this.outstandingReady) throw new RaftInvariantError('advance() with a Ready that is not the outstanding one');
    this.outstandingReady = null;
    const last = ready.entries.at(-1);
    if (last !== undefined) this.log.stableTo(last.index, last.term);
    if (ready.snapshot !== null) {
      this.log.stableSnapshotTo(ready.snapshot.meta.index);
      this.applied = Math.max(this.applied, ready.snapshot.meta.index);
    }
    const lastApplied = ready.committedEntries.at(-1);
    if (lastApplied !== undefined) this.applied = Math.max(this.applied, lastApplied.index);
    this.log.dropApplied(this.applied);
    // The leader's own entries count toward a quorum only now that they are durable. Followers learn
    // the new commit index with the next append or heartbeat (see handleAppendResponse).
    if (this.role === 'leader' && this.progress.get(this.id)?.maybeUpdate(this.log.lastStableIndex())) this.maybeCommit();
  }

  status(): RaftStatus {
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      lead: this.lead,
      role: this.role,
      commit: this.log.committed,
      applied: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      transferee: this.leadTransferee,
    };
  }

  /** The voters of the membership this node follows now, as held (confState copies and sorts them). */
  voters(): ReadonlySet<NodeId> {
    return this.currentMembership().voters;
  }

  /** The membership this node follows now (its latest, possibly uncommitted, configuration). */
  confState(): ConfState {
    return this.currentMembership().toConfState();
  }

  /** The term of the entry at `index` in this node's log, if it still holds it. */
  logTerm(index: number): number | undefined {
    return this.log.term(index);
  }

  // ---------------------------------------------------------------- roles and elections

  private tickElection(): void {
    this.electionElapsed++;
    const timeout = this.electionTimeoutTicks();
    if (this.promotable() && this.electionElapsed >= timeout) {
      this.electionElapsed = 0;
      this.campaign(this.opts.preVote ? 'preElection' : 'election', false);
    } else if (this.role === 'preCandidate' && this.electionElapsed % ELECTION_ROUND_TICKS === 0) {
      this.askAgain();
    }
  }

  /**
   * A pre-candidate asks the voters that have not answered again, every round while its pre-election
   * lasts. A voter that still counted the dead leader alive ignored the first request (stickiness), and
   * without this the pre-candidate waited a whole election timeout to ask again: at 10,000 pods one asked
   * 0.1 s before the other follower's stickiness ran out and the election took 6.6 s. A pre-vote is for
   * a future term and binds nothing, so asking again is harmless. (A candidate's voters granted it a
   * pre-vote, so they no longer hold to the old leader.)
   */
  private askAgain(): void {
    for (const to of this.currentMembership().voters) {
      if (to === this.id || this.votes.has(to)) continue;
      this.send({ type: 'preVote', from: this.id, to, term: this.term + 1, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm(), transfer: this.campaignIsTransfer });
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.opts.electionTicks) {
      this.electionElapsed = 0;
      if (this.opts.checkQuorum && !this.quorumRecentlyActive()) {
        // Followers may already have elected someone else; stop serving as leader.
        this.becomeFollower(this.term, null);
        return;
      }
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.opts.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /**
   * Ticks of silence after which this node campaigns: its randomised timeout, longer for a silent leader
   * whose connection is up (a stall). For a leader whose connection closed (its process died, most
   * likely) only a quarter of the randomised spread is kept: the followers no longer need the whole of it
   * to campaign one at a time, since two pre-candidates that ask each other at once settle who goes first
   * (handleVoteRequest). It never goes below electionTicks, which the leader lease counts on.
   */
  private electionTimeoutTicks(): number {
    const spread = this.randomizedElectionTimeout - this.opts.electionTicks;
    const leaderGone = this.lead !== null && this.lead !== this.id && this.closedPeers.has(this.lead);
    return this.leaderTimeoutTicks() + (leaderGone ? Math.floor(spread / 4) : spread);
  }

  /** Ticks of silence after which this node stops counting on the leader it knows (see stalledLeaderTicks). */
  private leaderTimeoutTicks(): number {
    const stalled = this.lead !== null && this.lead !== this.id && this.connectedPeers.has(this.lead);
    return stalled ? Math.max(this.opts.electionTicks, this.opts.stalledLeaderTicks ?? 0) : this.opts.electionTicks;
  }

  /** Whether a quorum of voters was heard from since the last check; starts a new round. */
  private quorumRecentlyActive(): boolean {
    const active = [this.id];
    for (const [id, pr] of this.progress) {
      if (pr.recentActive) active.push(id);
      pr.recentActive = false;
    }
    return this.currentMembership().hasQuorum(active);
  }

  /** Learners and removed nodes never campaign. */
  private promotable(): boolean {
    return this.currentMembership().isVoter(this.id);
  }

  private campaign(kind: 'preElection' | 'election', transfer: boolean): void {
    if (kind === 'preElection') this.becomePreCandidate();
    else this.becomeCandidate();
    if (this.currentMembership().voteResult(this.votes) === 'won') {
      this.winElection();
      return;
    }
    this.campaignIsTransfer = transfer;
    const type = kind === 'preElection' ? 'preVote' : 'vote';
    const term = kind === 'preElection' ? this.term + 1 : this.term;
    for (const to of this.currentMembership().voters) {
      if (to === this.id) continue;
      this.send({ type, from: this.id, to, term, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm(), transfer });
    }
  }

  private winElection(): void {
    if (this.role === 'preCandidate') this.campaign('election', false);
    else this.becomeLeader();
  }

  private handleVoteRequest(m: VoteMessage): void {
    const responseType = m.type === 'vote' ? 'voteResponse' : 'preVoteResponse';
    if (m.type === 'preVote' && this.role === 'preCandidate' && m.term === this.term + 1 && !m.transfer) {
      // Two pre-candidates asking each other at once would both pass and split the real vote, and the
      // next try could split again: followers of a dead leader starved of CPU alike time out together.
      // One gives way, the same one on both sides: the less up-to-date log, or with the same log, the
      // larger id. It grants and follows; the other refuses and goes on to win. Pre-votes bind nothing,
      // so this decides only who campaigns first.
      if (this.outranks(m)) {
        this.send({ type: responseType, from: this.id, to: m.from, term: this.term, reject: true });
        return;
      }
      this.becomeFollower(this.term, null);
    }
    const canVote =
      this.vote === m.from ||
      // Not voted yet, and no leader known in this term (a follower of a live leader does not help replace it).
      (this.vote === null && this.lead === null) ||
      // A pre-vote is for a future term: it binds nothing.
      (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      this.send({ type: responseType, from: this.id, to: m.from, term: m.term, reject: false });
    } else {
      this.send({ type: responseType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  /** Whether this node's claim to campaign beats `m`'s sender's: a more up-to-date log, or the same log and the smaller id. */
  private outranks(m: VoteMessage): boolean {
    const lastTerm = this.log.lastTerm();
    const lastIndex = this.log.lastIndex();
    if (lastTerm !== m.lastTerm) return lastTerm > m.lastTerm;
    if (lastIndex !== m.lastIndex) return lastIndex > m.lastIndex;
    return this.id < m.from;
  }

  private handleVoteResponse(m: VoteResponseMessage): void {
    const counting = (this.role === 'preCandidate' && m.type === 'preVoteResponse' && m.term === this.term + 1) || (this.role === 'candidate' && m.type === 'voteResponse');
    if (!counting || this.votes.has(m.from)) return;
    this.votes.set(m.from, !m.reject);
    const result = this.currentMembership().voteResult(this.votes);
    if (result === 'won') this.winElection();
    else if (result === 'lost') this.becomeFollower(this.term, null);
  }

  /** Answers a message from an older term. */
  private stepStale(m: Message): void {
    if ((this.opts.checkQuorum || this.opts.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
      // Perhaps only delayed; but perhaps we moved to a higher term during a partition, and with
      // pre-vote or check-quorum nothing else would ever carry that term to this leader (its followers
      // ignore our campaigns, it ignores our votes). Answer with our term so that it steps down and an
      // election at a term above ours lets us rejoin.
      this.send({ type: 'appendResponse', from: this.id, to: m.from, term: this.term, reject: false, index: 0, rejectHint: 0, hintTerm: 0 });
    } else if (m.type === 'preVote') {
      // Let a pre-candidate with a stale term learn ours, or it would keep asking.
      this.send({ type: 'preVoteResponse', from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // Term and vote stay as they are: a pre-election that fails must leave no trace.
    this.reset(this.term);
    this.role = 'preCandidate';
    this.votes.set(this.id, true);
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.role = 'candidate';
    this.vote = this.id;
    this.votes.set(this.id, true);
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    for (const id of this.currentMembership().members()) this.addProgress(id);
    this.progress.get(this.id)?.maybeUpdate(this.log.lastStableIndex());
    // Entries of earlier terms can only commit together with one of this term (figure 8).
    this.appendEntry('noop', '');
    this.broadcastAppend();
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
      this.transferSent = false;
    }
    this.lead = null;
    this.votes = new Map();
    this.progress = new Map();
    this.leadTransferee = null;
    this.readOnly.clear();
    this.readsAwaitingTermCommit = [];
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetElectionTimer();
  }

  private resetElectionTimer(): void {
    this.randomizedElectionTimeout = this.opts.electionTicks + Math.floor(this.opts.random() * this.opts.electionTicks);
  }

  // ---------------------------------------------------------------- follower side

  private handleAppend(m: AppendMessage): void {
    if (m.index < this.log.committed) {
      // Everything through our commit index matches the leader already.
      this.sendAppendResponse(m.from, false, this.log.committed);
      return;
    }
    const appended = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (appended !== null) {
      if (appended.writtenFrom !== null) {
        this.membership.replaceFrom(appended.writtenFrom, this.log.entriesBetween(appended.writtenFrom - 1, this.log.lastIndex()));
      }
      this.sendAppendResponse(m.from, false, appended.lastNewIndex);
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({ type: 'appendResponse', from: this.id, to: m.from, term: this.term, reject: true, index: m.index, rejectHint: hint.index, hintTerm: hint.term });
  }

  private sendAppendResponse(to: NodeId, reject: boolean, index: number): void {
    this.send({ type: 'appendResponse', from: this.id, to, term: this.term, reject, index, rejectHint: 0, hintTerm: 0 });
  }

  private handleHeartbeat(m: HeartbeatMessage): void {
    // The leader never sends a commit index past what it knows we hold.
    this.log.commitTo(m.commit);
    this.send({ type: 'heartbeatResponse', from: this.id, to: m.from, term: this.term, ctx: m.ctx, ...(m.round === undefined ? {} : { round: m.round }) });
  }

  private handleSnapshotChunk(m: SnapshotChunkMessage): void {
    if (m.meta.index <= this.log.committed) {
      // We already hold all of it (perhaps an answer of ours was lost): tell the leader where we are.
      this.sendAppendResponse(m.from, false, this.log.committed);
      return;
    }
    const { received, snapshot } = this.snapshotAssembler.add(m);
    if (snapshot === null) {
      this.send({ type: 'snapshotChunkResponse', from: this.id, to: m.from, term: this.term, snapshotIndex: m.meta.index, received });
      return;
    }
    this.installSnapshot(snapshot);
    this.sendAppendResponse(m.from, false, this.log.committed);
  }

  private installSnapshot(snapshot: Snapshot): void {
    const { index, term, confState } = snapshot.meta;
    if (this.log.matchTerm(index, term)) {
      // We hold the entries it covers: just commit them; our later entries stay valid.
      this.log.commitTo(index);
      return;
    }
    this.log.restore(snapshot);
    this.membership.restore(index, confState);
    this.snapshot = snapshot;
  }

  // ---------------------------------------------------------------- leader side

  private proposalRefusal(): RaftRefusal | null {
    if (this.role !== 'leader') return { code: 'NOT_LEADER', message: `${this.id} is not the leader`, lead: this.lead };
    if (this.leadTransferee !== null) {
      return { code: 'TRANSFER_IN_PROGRESS', message: `leadership is being transferred to ${this.leadTransferee}; retry with the new leader`, lead: this.lead };
    }
    return null;
  }

  private refuse(code: RefusalCode, message: string): { ok: false; refusal: RaftRefusal } {
    return { ok: false, refusal: { code, message, lead: this.lead } };
  }

  private appendEntry(type: EntryType, data: string): Entry {
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type, data };
    this.log.append([entry]);
    if (type === 'confChange') {
      this.membership.replaceFrom(entry.index, [entry]);
      this.syncProgressWithMembership();
    }
    return entry;
  }

  private addProgress(id: NodeId): void {
    this.progress.set(id, new Progress(this.log.lastIndex() + 1, this.opts.maxInflightMsgs));
  }

  private syncProgressWithMembership(): void {
    const members = new Set(this.currentMembership().members());
    for (const id of members) if (!this.progress.has(id)) this.addProgress(id);
    for (const id of this.progress.keys()) if (!members.has(id)) this.progress.delete(id);
    if (this.leadTransferee !== null && !members.has(this.leadTransferee)) this.leadTransferee = null;
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** Commits the highest index a quorum holds, if it is of this term (figure 8); true if commit moved. */
  private maybeCommit(): boolean {
    const index = this.currentMembership().quorumIndex((id) => this.progress.get(id)?.match ?? 0);
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    const waiting = this.readsAwaitingTermCommit;
    this.readsAwaitingTermCommit = [];
    for (const ctx of waiting) this.startRead(ctx);
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private broadcastHeartbeat(): void {
    const ctx = this.readOnly.latestCtx();
    const round = ++this.heartbeatRound;
    for (const [to, pr] of this.progress) {
      if (to === this.id) continue;
      this.send({ type: 'heartbeat', from: this.id, to, term: this.term, commit: Math.min(pr.match, this.log.committed), ctx, round });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.transferSent = true;
    this.send({ type: 'timeoutNow', from: this.id, to, term: this.term });
  }

  /**
   * Sends `to` the entries from its next index (or a snapshot if they are compacted). An empty append
   * is sent only if `sendIfEmpty`, to carry the commit index or to find where the logs diverge.
   * Returns whether anything was sent.
   */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to)!;
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.entriesFrom(pr.next, this.opts.maxEntriesPerMsg);
    if (prevTerm === undefined || entries === null) {
      this.startSnapshotTransfer(to, pr);
      return true;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'append', from: this.id, to, term: this.term, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    pr.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  private handleAppendResponse(m: AppendResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      // The follower's hint names its last entry with a term ≤ the one we probed; skip to where our log
      // can match that (one round trip per term rather than per entry).
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.hintTerm).index : m.rejectHint;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    const updated = pr.maybeUpdate(m.index);
    if (pr.state === 'snapshot') {
      // Once the follower holds the snapshot we were sending (or more), entries can flow again, or a
      // newer snapshot if we compacted past it meanwhile (sendAppend decides).
      if (pr.match < pr.snapshot!.meta.index) return;
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (!updated) {
      return;
    } else if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else {
      pr.freeInflightThrough(m.index);
    }
    // No append goes out just to announce the new commit index (etcd broadcasts one): followers learn
    // it with the next append or heartbeat, and under load that halves the messages per entry.
    this.maybeCommit();
    if (wasPaused) this.sendAppend(m.from);
    while (this.sendAppend(m.from, false));
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Progress starts afresh in each term, so only rounds of this term are counted.
    if (m.round !== undefined && m.round > pr.heartbeatRoundAcked) pr.heartbeatRoundAcked = Math.min(m.round, this.heartbeatRound);
    if (pr.state === 'replicate') pr.freeOneInflight();
    // The follower is reachable: resume whatever was lost on the way (appends or a snapshot chunk).
    if (pr.state === 'snapshot') {
      if (pr.snapshotOffset === pr.snapshotOffsetAtHeartbeat) this.sendSnapshotChunk(m.from, pr);
      pr.snapshotOffsetAtHeartbeat = pr.snapshotOffset;
    } else if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (m.ctx !== null) {
      const acks = this.readOnly.acknowledge(m.from, m.ctx);
      if (acks !== null && this.currentMembership().hasQuorum(acks)) this.readStates.push(...this.readOnly.releaseThrough(m.ctx));
    }
  }

  private startSnapshotTransfer(to: NodeId, pr: Progress): void {
    if (this.snapshot === null) throw new RaftInvariantError(`${to} needs compacted entries but ${this.id} holds no snapshot`);
    pr.becomeSnapshot(this.snapshot);
    this.sendSnapshotChunk(to, pr);
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    // A transfer goes on with the newest snapshot: the driver need keep only that one readable (a large
    // one is read from its disk as it is sent, and the parts of older ones are deleted).
    if (this.snapshot !== null && pr.snapshot !== this.snapshot) pr.becomeSnapshot(this.snapshot);
    const snapshot = pr.snapshot!;
    const { data, done } = snapshotChunk(snapshot, pr.snapshotOffset, this.opts.snapshotChunkSize);
    this.send({ type: 'snapshotChunk', from: this.id, to, term: this.term, meta: snapshot.meta, offset: pr.snapshotOffset, data, done });
  }

  private handleSnapshotChunkResponse(m: SnapshotChunkResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (pr.snapshot?.meta.index !== m.snapshotIndex) return;
    // One chunk is in flight at a time: answer only news, so that duplicated answers do not start
    // parallel streams. The follower's count may also go down (it restarted, or a reordered chunk of
    // another snapshot reset its buffer): then resend from where it stands.
    if (m.received === pr.snapshotOffset) return;
    pr.snapshotOffset = m.received;
    this.sendSnapshotChunk(m.from, pr);
  }

  private startRead(ctx: string): void {
    if (!this.readOnly.add(ctx, this.log.committed, this.id)) return;
    if (this.currentMembership().hasQuorum([this.id])) {
      this.readStates.push(...this.readOnly.releaseThrough(ctx));
      return;
    }
    this.broadcastHeartbeat();
  }

  // ---------------------------------------------------------------- plumbing

  private currentMembership(): Membership {
    return this.membership.current();
  }

  /**
   * Queues `m`. A leader's replication traffic may leave before this Ready is durable, provided the
   * term it carries was already handed to the driver in an earlier Ready (a single-voter cluster
   * elects itself in one step, and its new term must be durable before anyone hears of it). Everything
   * else claims something about this node's disk and waits for it.
   */
  private send(m: Message): void {
    const termDurable = this.term === this.lastHardState.term && this.vote === this.lastHardState.vote;
    // A heartbeat response claims nothing about the log: only the term it carries must be durable.
    const claimsNothing = this.role === 'leader' ? REPLICATION_TYPES.has(m.type) : m.type === 'heartbeatResponse';
    if (termDurable && claimsNothing) this.messages.push(m);
    else this.messagesAfterPersist.push(m);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
