import { accept, applyCommand, createEmptyState, restoreSnapshotText, snapshotText, stateHash, takeSnapshot, type Command, type CommandOutcomes, type CoreState, type Result } from '../../core/index.js';
import { RaftNode } from '../../raft/node.js';
import { partsOf, type PartedData } from '../../raft/snapshot-data.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, ReadState, Role, Snapshot, SoftState } from '../../raft/types.js';
import { KeyleaseError } from '../../../shared/errors/keylease-error.js';
import type { Logger } from '../../../shared/log/logger.js';
import { LogClosedError, NotLeaderError } from '../errors.js';
import type { AppliedEntry, ReplicatedLog } from '../types.js';
import { PeerTransport } from './peer-transport.js';
import type { ReloadingTls } from '../../../shared/tls/reloading-tls.js';
import { RaftStorage } from './raft-storage.js';
import { Listeners } from '../listeners.js';
import { LeaderChangeCounter } from './leader-changes.js';
import { ticksDue } from './election-clock.js';

/**
 * A snapshot is also taken once the entries since the last hold this many characters, whatever their
 * number: a pool's imports (a thousand keystores an entry) would otherwise leave a hundred megabytes of
 * log to keep on disk, send to a new follower and replay at a restart at 100,000 keys.
 */
const SNAPSHOT_EVERY_CHARS = 32 << 20;
/**
 * Applied entries kept in memory (data characters) for followers a little behind; older ones are read
 * back from LevelDB. The rest of the SNAPSHOT_EVERY_CHARS between snapshots stays on disk only.
 */
const MEMORY_TAIL_CHARS = 2 << 20;

/**
 * A follower waits this many election timeouts for a leader that went silent while its connection stays
 * up (a process starved of CPU or in a long garbage collection), one once the connection closes (a dead
 * process: failover stays as fast). At 10,000 pods on a loaded machine leaders stalled 1-2.5 s, longer
 * than an election timeout, and every stall cost a leader change.
 */
const STALLED_LEADER_TIMEOUTS = 3;

/**
 * A leader answers renewals from memory for this share of (electionTicks − 1) ticks after it sent a
 * heartbeat round that a quorum answered. A follower's first tick may come at once after the heartbeat,
 * and its ticks come no closer than 0.9 of a tick (tickIfDue; a timer that stands for several ticks,
 * ticksDue, stands for no more than the time since the heartbeat was read), so it cannot campaign sooner than
 * 0.9·(electionTicks − 1) ticks after; 0.8 leaves a tenth of that for clocks running at other rates.
 */
const LEADER_LEASE_SHARE = 0.8;

export interface RaftReplicaOptions {
  readonly replicaId: NodeId;
  readonly directory: string;
  /** The other replicas' Raft addresses, by id. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /**
   * A replica joining a running cluster (to be added as a learner) does not count itself among the
   * voters: it must not campaign before the cluster has made it a member.
   */
  readonly join: boolean;
  readonly listen: { readonly host: string; readonly port: number };
  readonly advertisedRaftAddress: string;
  readonly agentEndpoint: string;
  readonly tls: ReloadingTls | null;
  /** One Raft tick; elections time out after electionTicks..2·electionTicks of them. */
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Snapshot the state machine and compact the log after this many applied entries. */
  readonly snapshotEvery: number;
  readonly proposalTimeoutMs: number;
  readonly logger: Logger;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (result: Result<unknown>) => void;
  readonly reject: (error: unknown) => void;
  /** Swept by the ticker (one timer for all, rather than one per entry). */
  readonly deadline: number;
}

/** A command waiting for the end of this event-loop turn, to be proposed with the others that arrived. */
interface QueuedProposal {
  readonly data: string;
  readonly resolve: (result: Result<unknown>) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingRead {
  readonly run: () => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/** A batch of reads sharing one ReadIndex round; `index` is known once a quorum confirmed leadership. */
interface ReadRound {
  readonly ctx: string;
  readonly reads: PendingRead[];
  index: number | null;
}

export class ProposalTimeoutError extends KeyleaseError {
  constructor(ms: number) {
    super('PROPOSAL_TIMEOUT', `the request was not committed within ${ms} ms, so its outcome is unknown: retry it (claims and releases are safe to retry)`);
  }
}

/** A proposal whose entry may or may not have been committed: only a retry (which is safe) can tell. */
export class OutcomeUnknownError extends KeyleaseError {
  constructor() {
    super('OUTCOME_UNKNOWN', 'leadership changed before the outcome of this request was known: retry it (claims and releases are safe to retry)');
  }
}

/** The replica cannot write its log: it stops rather than run on state it cannot make durable. */
export class ReplicaStoppedError extends KeyleaseError {
  constructor() {
    super('REPLICA_STOPPED', 'this replica stopped after a storage failure: use another replica, and see this one\'s logs');
  }
}

/**
 * The replicated log over Raft: a RaftNode driven by timers, gRPC between replicas and classic-level
 * storage, applying committed commands to the allocation core. Everything above sees only the
 * ReplicatedLog interface, exactly as with the single-replica log.
 */
export class RaftReplicatedLog implements ReplicatedLog {
  private state: CoreState;
  private appliedIndex: number;
  private snapshotIndex: number;
  private role: Role = 'follower';
  private lead: NodeId | null = null;
  private readonly leaderChanges = new LeaderChangeCounter();
  /** By index, in the order proposed (so deadlines ascend). */
  private readonly pending = new Map<number, PendingProposal>();
  private queuedProposals: QueuedProposal[] = [];
  private readonly queuedReads: PendingRead[] = [];
  private readonly readRounds: ReadRound[] = [];
  private readSequence = 0;
  /** Highest index each peer acknowledged to this replica: tells whether a learner has caught up. */
  private readonly acknowledged = new Map<NodeId, number>();
  private readonly appliedListeners: Listeners<AppliedEntry>;
  private readonly leadershipListeners: Listeners<boolean>;
  private ticker: NodeJS.Timeout | null = null;
  /** When the last Raft tick ran, and the last tick or heartbeat tick (performance.now()). */
  private lastTickAt = performance.now();
  private lastHeartbeatAt = performance.now();
  /** When a peer's message was last stepped (performance.now()): the election clock counts no time before it as silence. */
  private lastStepAt = performance.now();
  private draining: Promise<void> | null = null;
  /** A snapshot being written out in the background (compaction), and one written and waiting to be switched to. */
  private snapshotting: Promise<void> | null = null;
  private writtenSnapshot: { readonly index: number; readonly data: PartedData } | null = null;
  /** Characters of entry data applied since the last snapshot: what the in-memory log holds. */
  private entryCharsSinceSnapshot = 0;
  /** The size of the last snapshot this replica wrote, in characters. */
  private lastSnapshotChars = 0;
  private closed = false;
  private failure: Error | null = null;
  /**
   * When heartbeat rounds went out, oldest first (performance.now() taken before the node call that
   * sent them, so never later than the sending). Not every round is here; a round's lease is counted
   * from the newest noted round at or before it, which went out no later.
   */
  private readonly heartbeatRoundsSentAt: Array<{ readonly round: number; readonly at: number }> = [];

  private constructor(
    private readonly recoveredCommit: number,
    private readonly options: RaftReplicaOptions,
    private readonly node: RaftNode,
    private readonly storage: RaftStorage,
    private readonly transport: PeerTransport,
    recoveredSnapshot: Snapshot | null,
  ) {
    this.appliedListeners = new Listeners('applied-entry', options.logger);
    this.leadershipListeners = new Listeners('leadership', options.logger);
    this.state = recoveredSnapshot ? restoreSnapshotText(partsOf(recoveredSnapshot.data)) : createEmptyState();
    this.appliedIndex = recoveredSnapshot?.meta.index ?? 0;
    this.snapshotIndex = this.appliedIndex;
  }

  static async open(options: RaftReplicaOptions): Promise<RaftReplicatedLog> {
    const { storage, recovered } = await RaftStorage.open(options.directory, options.replicaId, options.logger);
    // A joining replica bootstraps no configuration: it learns the membership from the leader's log.
    const voters = options.join ? [] : [options.replicaId, ...options.peers.keys()];
    const node = new RaftNode({
      id: options.replicaId,
      peers: voters,
      electionTicks: options.electionTicks,
      stalledLeaderTicks: STALLED_LEADER_TIMEOUTS * options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      random: Math.random,
      preVote: true,
      checkQuorum: true,
      maxInflightMsgs: 256,
      maxEntriesPerMsg: 256,
      snapshotChunkSize: 512 * 1024,
      storage: recovered,
      durableEntries: { read: (from, through) => storage.readEntries(from, through), memoryTailChars: MEMORY_TAIL_CHARS },
    });
    let log: RaftReplicatedLog | null = null;
    const transport = new PeerTransport({
      replicaId: options.replicaId,
      listenHost: options.listen.host,
      listenPort: options.listen.port,
      peers: options.peers,
      advertisedRaftAddress: options.advertisedRaftAddress,
      advertisedAgentEndpoint: options.agentEndpoint,
      tls: options.tls,
      onMessage: (message) => log?.step(message),
      onConnection: (peer, connected) => log?.peerConnection(peer, connected),
      logger: options.logger.child({ component: 'raft-transport' }),
    });
    log = new RaftReplicatedLog(recovered.hardState.commit, options, node, storage, transport, recovered.snapshot);
    try {
      await transport.start();
    } catch (error) {
      await storage.close();
      throw error;
    }
    options.logger.info('raft replica recovered', {
      replicaId: options.replicaId,
      term: recovered.hardState.term,
      commit: recovered.hardState.commit,
      snapshotIndex: recovered.snapshot?.meta.index ?? 0,
      entries: recovered.entries.length,
      raft: `${options.listen.host}:${transport.port}`,
    });
    // The timer ticks unless it ticked less than about a tick ago (an interval may fire early).
    log.ticker = setInterval(() => log.tickIfDue(options.tickMs * 0.9), options.tickMs);
    log.kick();
    return log;
  }

  /**
   * The local state once this replica has replayed what it had committed before it stopped: for start-up
   * checks only (it may be stale; everything else reads through read()).
   */
  async recoveredState<T>(query: (state: CoreState) => T): Promise<T> {
    while (this.appliedIndex < this.recoveredCommit && !this.failure && !this.closed) {
      await new Promise<void>((resolve) => {
        const off = this.onApplied(() => {
          off();
          resolve();
        });
        setTimeout(() => {
          off();
          resolve();
        }, this.options.tickMs);
      });
    }
    this.checkOpen();
    return query(this.state);
  }

  get raftPort(): number {
    return this.transport.port;
  }

  isLeader(): boolean {
    return this.role === 'leader' && !this.closed && this.failure === null;
  }

  /** See ReplicatedLog.leaderLeaseHeld and RaftNode.leaseRound. */
  leaderLeaseHeld(): boolean {
    if (!this.isLeader()) return false;
    const round = this.node.leaseRound();
    if (round === 0) return false;
    const sent = this.heartbeatRoundsSentAt;
    let newest = -1;
    while (newest + 1 < sent.length && sent[newest + 1]!.round <= round) newest++;
    if (newest < 0) return false;
    // Rounds before the newest confirmed one will never matter again.
    if (newest > 0) sent.splice(0, newest);
    return performance.now() < sent[0]!.at + this.leaseMs;
  }

  private get leaseMs(): number {
    return LEADER_LEASE_SHARE * (this.options.electionTicks - 1) * this.options.tickMs;
  }

  /** Runs a node call that may broadcast heartbeats, and notes when any it sent went out. */
  private noteHeartbeats<T>(call: () => T): T {
    const at = performance.now();
    const result = call();
    const round = this.node.heartbeatRoundsSent();
    const sent = this.heartbeatRoundsSentAt;
    if (round > (sent.at(-1)?.round ?? 0)) {
      sent.push({ round, at });
      // Bounded while no quorum answers (a partitioned leader): the oldest rounds are dropped, which only shortens a lease.
      if (sent.length > 1024) sent.splice(0, sent.length - 512);
    }
    return result;
  }

  /**
   * The leader as agents are sent to it, when it is another replica: its id and agent endpoint. Read for
   * every refusal a follower answers, so it builds nothing else.
   */
  otherLeader(): { replicaId: NodeId; agentEndpoint: string } | null {
    if (this.lead === null || this.lead === this.options.replicaId) return null;
    const agentEndpoint = this.transport.agentEndpointOf(this.lead);
    return agentEndpoint === null ? null : { replicaId: this.lead, agentEndpoint };
  }

  /** The agent endpoint of the current leader, as far as this replica knows. */
  leaderHint(): string | null {
    if (this.lead === null) return null;
    if (this.lead === this.options.replicaId) return this.options.agentEndpoint;
    return this.transport.agentEndpointOf(this.lead);
  }

  /** Milliseconds until, as this replica sees it, a leader may next be known; null when it leads (see RaftNode.ticksUntilLeaderKnown). */
  msUntilLeaderKnown(): number | null {
    const ticks = this.node.ticksUntilLeaderKnown();
    return ticks === null ? null : ticks * this.options.tickMs;
  }

  /** Role, term and indices; with `withStateHash`, a digest of the applied state to compare replicas by. */
  status(withStateHash = false): { replicaId: NodeId; role: Role; lead: NodeId | null; term: number; commit: number; applied: number; leaderChanges: number; confState: ConfState; stateHash?: string } {
    const status = this.node.status();
    return {
      replicaId: this.options.replicaId,
      role: status.role,
      lead: status.lead,
      term: status.term,
      commit: status.commit,
      applied: this.appliedIndex,
      leaderChanges: this.leaderChanges.count,
      confState: this.node.confState(),
      ...(withStateHash ? { stateHash: stateHash(this.state) } : {}),
    };
  }

  /**
   * Commands proposed in one turn of the event loop become entries together: one append to each
   * follower and one disk write for all of them. (Proposing a lone command at once saved ~0.02 ms at one
   * in flight, and would split a burst of requests arriving in one turn into two serial disk writes.)
   */
  async propose<C extends Command>(command: C): Promise<Result<CommandOutcomes[C['type']]>> {
    this.checkOpen();
    if (!this.isLeader()) throw NotLeaderError.of(this.leaderHint());
    return new Promise<Result<unknown>>((resolve, reject) => {
      if (this.queuedProposals.length === 0) setImmediate(() => this.proposeQueued());
      this.queuedProposals.push({ data: JSON.stringify(command), resolve, reject });
    }) as Promise<Result<CommandOutcomes[C['type']]>>;
  }

  private proposeQueued(): void {
    const queued = this.queuedProposals;
    this.queuedProposals = [];
    if (queued.length === 0) return;
    if (this.failure || this.closed) {
      for (const q of queued) q.reject(this.failure ? new ReplicaStoppedError() : new LogClosedError());
      return;
    }
    const proposed = this.node.proposeBatch(queued.map((q) => q.data));
    if (!proposed.ok) {
      for (const q of queued) q.reject(NotLeaderError.of(this.leaderHint()));
      return;
    }
    const deadline = performance.now() + this.options.proposalTimeoutMs;
    queued.forEach((q, k) => this.track(proposed.index + k, { term: proposed.term, resolve: q.resolve, reject: q.reject, deadline }));
    this.kick();
  }

  private track(index: number, proposal: PendingProposal): void {
    // A proposal of an earlier term at this index lost its entry to ours: its caller may retry.
    const overwritten = this.pending.get(index);
    if (overwritten) {
      this.pending.delete(index);
      overwritten.reject(NotLeaderError.of(this.leaderHint()));
    }
    this.pending.set(index, proposal);
  }

  /** Waits until the entry proposed at `index` in `term` is applied here, or is known to be lost. */
  private outcomeOf(index: number, term: number): Promise<Result<unknown>> {
    const outcome = new Promise<Result<unknown>>((resolve, reject) => {
      this.track(index, { term, resolve, reject, deadline: performance.now() + this.options.proposalTimeoutMs });
    });
    this.kick();
    return outcome;
  }

  /** Fails the proposals whose deadline passed; the oldest come first, so the sweep stops at the first live one. */
  private expireProposals(): void {
    const now = performance.now();
    for (const [index, pending] of this.pending) {
      if (pending.deadline > now) break;
      this.pending.delete(index);
      pending.reject(new ProposalTimeoutError(this.options.proposalTimeoutMs));
    }
  }

  /** Linearizable: runs `query` once this replica has applied everything committed before the call. */
  read<T>(query: (state: CoreState) => T): Promise<T> {
    this.checkOpen();
    if (!this.isLeader()) return Promise.reject(NotLeaderError.of(this.leaderHint()));
    return new Promise<T>((resolve, reject) => {
      const read: PendingRead = {
        run: () => {
          clearTimeout(read.timer);
          try {
            resolve(query(this.state));
          } catch (error) {
            reject(error);
          }
        },
        reject: (error) => {
          clearTimeout(read.timer);
          reject(error);
        },
        timer: setTimeout(() => {
          this.dropRead(read);
          reject(new ProposalTimeoutError(this.options.proposalTimeoutMs));
        }, this.options.proposalTimeoutMs),
      };
      this.queuedReads.push(read);
      this.startReadRound();
    });
  }

  peek<T>(query: (state: CoreState) => T): T {
    this.checkOpen();
    return query(this.state);
  }

  onApplied(listener: (entry: AppliedEntry) => void): () => void {
    return this.appliedListeners.add(listener);
  }

  onLeadershipChange(listener: (isLeader: boolean) => void): () => void {
    return this.leadershipListeners.add(listener);
  }

  /** Adds a replica that follows the log without voting; it catches up (by snapshot if need be) first. */
  addLearner(id: NodeId, raftAddress: string): Promise<void> {
    return this.changeMembership({ type: 'addLearner', nodeId: id }, raftAddress);
  }

  /** Makes a learner a voter once it has acknowledged everything committed when this was asked. */
  async promoteLearner(id: NodeId, catchUpTimeoutMs = this.options.proposalTimeoutMs): Promise<void> {
    this.checkOpen();
    if (!this.isLeader()) throw NotLeaderError.of(this.leaderHint());
    if (!this.node.confState().learners.includes(id)) throw new KeyleaseError('INVALID_CONF_CHANGE', `${id} is not a learner of this cluster: add it first`);
    const target = this.node.status().commit;
    const deadline = Date.now() + catchUpTimeoutMs;
    while ((this.acknowledged.get(id) ?? 0) < target) {
      if (Date.now() > deadline) {
        throw new KeyleaseError('LEARNER_BEHIND', `learner ${id} has acknowledged entries up to ${this.acknowledged.get(id) ?? 0} of ${target}: let it catch up (is it running and reachable?), then promote again`);
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.tickMs));
    }
    await this.changeMembership({ type: 'promoteLearner', nodeId: id });
  }

  removeMember(id: NodeId): Promise<void> {
    return this.changeMembership({ type: 'removeNode', nodeId: id });
  }

  /** Single-server membership change; resolves once the change is applied here. */
  private async changeMembership(change: ConfChange, raftAddress?: string): Promise<void> {
    this.checkOpen();
    if (raftAddress) this.transport.addPeer(change.nodeId, raftAddress);
    const proposed = this.node.proposeConfChange(change);
    if (!proposed.ok) {
      if (proposed.refusal.code === 'NOT_LEADER') throw NotLeaderError.of(this.leaderHint());
      throw new KeyleaseError(proposed.refusal.code, proposed.refusal.message);
    }
    await this.outcomeOf(proposed.index, proposed.term);
  }

  /** Hands leadership to the voter `to`, or to the most suitable one; resolves when this replica no longer leads. */
  async transferLeadership(to?: NodeId, timeoutMs = this.options.tickMs * this.options.electionTicks * 2): Promise<boolean> {
    if (!this.isLeader()) return false;
    const target = to ?? this.node.confState().voters.find((id) => id !== this.options.replicaId);
    if (!target) return false;
    const requested = this.node.transferLeadership(target);
    if (!requested.ok) throw new KeyleaseError(requested.refusal.code, requested.refusal.message);
    this.kick();
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(false);
      }, timeoutMs);
      const off = this.onLeadershipChange((isLeader) => {
        if (isLeader) return;
        clearTimeout(timer);
        off();
        resolve(true);
      });
    });
  }

  /**
   * The first step of a graceful stop: a leader hands leadership to a caught-up voter, so the others need
   * no election timeout. The coordinator does this before it stops serving agents: a replica that still
   * leads but refuses connections leaves agents nowhere to renew, and expires their leases itself.
   */
  async handOverLeadership(): Promise<void> {
    if (this.closed || !this.isLeader() || this.node.confState().voters.length <= 1) return;
    const handedOver = await this.transferLeadership().catch(() => false);
    // Until the new leader's first message this replica names no leader; refusals that name it send
    // agents straight there, so wait for it (two election timeouts at most, the longest an election takes).
    const deadline = performance.now() + 2 * this.options.tickMs * this.options.electionTicks;
    while (handedOver && this.lead === null && !this.closed && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, this.options.tickMs / 4));
    this.options.logger.info(handedOver ? 'leadership handed over before shutdown' : 'leadership transfer did not complete before shutdown', { lead: this.lead });
  }

  /** Graceful stop: hand leadership over first (unless done already), then close. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.handOverLeadership();
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    while (this.draining) await this.draining;
    await this.snapshotting;
    this.failAll(new LogClosedError());
    this.setRole({ lead: null, role: 'follower' });
    await this.transport.close();
    await this.storage.close();
  }

  // ---------------------------------------------------------------- driving the node

  /**
   * A leader's heartbeats fall due here too once a tick's time has passed. Only the timer moves the
   * election and check-quorum clocks: it fires between turns of the event loop, when whatever peers sent
   * meanwhile can be read, so a long turn never counts as their silence (requests ticking a follower's
   * election clock in a long turn once made it campaign against a leader whose heartbeats sat unread).
   */
  keepTime(): void {
    const now = performance.now();
    if (now - this.lastHeartbeatAt < this.options.tickMs || this.closed || this.failure) return;
    this.lastHeartbeatAt = now;
    this.noteHeartbeats(() => this.node.tickHeartbeat());
    this.kick();
  }

  /** The transport's word on a peer's connection (see RaftNode.peerConnection). */
  private peerConnection(peer: NodeId, connected: boolean): void {
    this.options.logger.info(connected ? 'Raft peer connected' : 'Raft peer disconnected', { peer });
    this.node.peerConnection(peer, connected);
  }

  private tickIfDue(sinceLastMs: number): void {
    const now = performance.now();
    if (now - this.lastTickAt < sinceLastMs) return;
    const gapMs = now - this.lastTickAt;
    // A stall this long would have cost the leadership if peers' connections did not show it alive.
    if (gapMs > this.options.electionTicks * this.options.tickMs) this.options.logger.info('Raft timer late: the event loop was blocked', { gapMs: Math.round(gapMs), role: this.role });
    const ticks = ticksDue({ msSinceTick: gapMs, msSinceMessage: now - this.lastStepAt, tickMs: this.options.tickMs, electionTicks: this.options.electionTicks, leaderUnreachable: this.node.leaderUnreachable() });
    this.lastTickAt = now;
    this.lastHeartbeatAt = now;
    for (const peer of this.node.voters()) this.transport.keepConnected(peer);
    // Time before a campaign started is not counted again towards the next one.
    const role = this.node.status().role;
    for (let i = 0; i < ticks && this.node.status().role === role; i++) this.tick();
  }

  private tick(): void {
    if (this.closed || this.failure) return;
    this.noteHeartbeats(() => this.node.tick());
    this.expireProposals();
    this.kick();
  }

  private step(message: Message): void {
    if (this.closed || this.failure) return;
    this.lastStepAt = performance.now();
    this.keepTime();
    if (message.type === 'appendResponse' && !message.reject) {
      this.acknowledged.set(message.from, Math.max(this.acknowledged.get(message.from) ?? 0, message.index));
    }
    this.noteHeartbeats(() => this.node.step(message));
    this.kick();
  }

  /**
   * Sends what needs no disk write at once (even while a Ready is being persisted), then runs the Ready
   * loop unless it is already running; the node stays steppable meanwhile.
   */
  private kick(): void {
    if (this.closed || this.failure) return;
    for (const message of this.node.takeMessages()) this.transport.send(message);
    if (this.draining) {
      // A commit learned while a write is in flight is applied now, not after that write.
      const committed = this.node.takeCommittedEntries();
      if (committed.length > 0) {
        for (const entry of committed) this.apply(entry);
        this.serveReads();
      }
      return;
    }
    // Otherwise the next Ready carries the commit, and drain applies it once that Ready's write started.
    this.draining = this.drain()
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.draining = null;
        if (!this.closed && !this.failure && (this.node.hasReady() || this.writtenSnapshot)) this.kick();
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.writtenSnapshot) await this.switchToSnapshot(this.writtenSnapshot);
      if (!this.node.hasReady()) return;
      const ready = this.node.ready();
      // Replication traffic claims nothing about our disk and may leave before the write completes.
      for (const message of ready.messages) this.transport.send(message);
      if (ready.snapshot) this.installSnapshot(ready.snapshot);
      // Appends leave before the disk write starts (they need nothing of it), acknowledgements as soon
      // as it ends: neither waits for a later turn of the event loop.
      this.transport.flush();
      const persisted = this.storage.persist(ready);
      // Committed entries are durable on a quorum already, and the state machine is rebuilt from the log
      // on restart: they are applied while this replica's own write is under way rather than before it
      // starts or after it ends (and must be now, in order with what takeCommittedEntries hands out).
      try {
        for (const entry of ready.committedEntries) this.apply(entry);
      } finally {
        await persisted;
      }
      for (const message of ready.messagesAfterPersist) this.transport.send(message);
      this.transport.flush();
      if (ready.softState) this.setRole(ready.softState);
      this.readIndexesConfirmed(ready.readStates);
      this.noteHeartbeats(() => this.node.advance(ready));
      this.serveReads();
      this.startReadRound();
      this.maybeCompact();
    }
  }

  private apply(entry: Entry): void {
    if (entry.index <= this.appliedIndex) return;
    this.appliedIndex = entry.index;
    this.entryCharsSinceSnapshot += entry.data.length;
    let result: Result<unknown> = accept({});
    if (entry.type === 'normal') {
      const command = JSON.parse(entry.data) as Command;
      result = applyCommand(this.state, command);
      const applied: AppliedEntry = { index: entry.index, command, result: result as AppliedEntry['result'] };
      this.appliedListeners.emit(applied);
    } else if (entry.type === 'confChange') {
      this.options.logger.info('membership changed', { index: entry.index, ...this.node.confState() });
    }
    const pending = this.pending.get(entry.index);
    if (!pending) return;
    this.pending.delete(entry.index);
    // Another leader's entry took this index: ours was never committed, and the caller may retry.
    if (pending.term === entry.term) pending.resolve(result);
    else pending.reject(NotLeaderError.of(this.leaderHint()));
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.state = restoreSnapshotText(partsOf(snapshot.data));
    this.appliedIndex = snapshot.meta.index;
    this.snapshotIndex = snapshot.meta.index;
    this.entryCharsSinceSnapshot = 0;
    for (const [index, pending] of this.pending) {
      if (index > snapshot.meta.index) continue;
      this.pending.delete(index);
      // The snapshot may or may not contain our entry: the caller cannot know, and must retry.
      pending.reject(new OutcomeUnknownError());
    }
    this.options.logger.info('installed a snapshot from the leader', { index: snapshot.meta.index, term: snapshot.meta.term });
  }

  /**
   * Starts a snapshot once enough entries were applied since the last. Only the copy of the state is
   * made at once (it must be of one instant); the copy is then serialised in parts and written out in
   * the background, yielding to the event loop between parts, so heartbeats, appends and renewals go on
   * meanwhile. A whole-state string built and stored in one turn blocked the loop for seconds at
   * 100,000 keys, long enough for followers to call an election, and cost four times its size in memory.
   */
  private maybeCompact(): void {
    if (this.snapshotting || this.writtenSnapshot) return;
    const entries = this.appliedIndex - this.snapshotIndex;
    if (entries < this.options.snapshotEvery && this.entryCharsSinceSnapshot < SNAPSHOT_EVERY_CHARS) return;
    // Not before the log since the last holds half that snapshot's size: a snapshot costs the whole
    // state, so this keeps its cost within twice the log written, however large the pool.
    if (this.entryCharsSinceSnapshot < this.lastSnapshotChars / 2) return;
    // Entries applied before this replica's own write finished are compacted once they are durable here.
    if (this.appliedIndex > this.storage.durableLastIndex) return;
    const index = this.appliedIndex;
    const copy = takeSnapshot(this.state, false, 'held');
    this.entryCharsSinceSnapshot = 0;
    this.snapshotting = this.writeSnapshot(index, snapshotText(copy, undefined, 'held'))
      .then((data) => {
        this.lastSnapshotChars = data.partLengths.reduce((sum, length) => sum + length, 0);
        this.writtenSnapshot = { index, data };
      })
      .catch((error: unknown) => this.fail(error))
      .finally(() => {
        this.snapshotting = null;
        this.kick();
      });
  }

  /** Serialises and stores the snapshot a part at a time; what Raft then holds is read back from the store when needed. */
  private async writeSnapshot(index: number, text: Iterable<string>): Promise<PartedData> {
    const closed = () => this.closed;
    async function* parts(): AsyncGenerator<string> {
      for (const part of text) {
        yield part;
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (closed()) return;
      }
    }
    const partLengths = await this.storage.writeSnapshotParts(index, parts());
    return this.storage.storedSnapshotData(index, partLengths);
  }

  /** Makes the written snapshot the node's and the store's, unless a newer one was installed meanwhile. */
  private async switchToSnapshot(written: { readonly index: number; readonly data: PartedData }): Promise<void> {
    this.writtenSnapshot = null;
    if (written.index <= this.snapshotIndex || this.closed) {
      if (!this.closed) await this.storage.dropSnapshotParts(written.index, written.data.partCount);
      return;
    }
    const meta = this.node.compact(written.index, written.data);
    await this.storage.compact(meta, written.data.partCount);
    this.snapshotIndex = written.index;
    this.options.logger.debug('log compacted', { index: written.index, parts: written.data.partCount });
  }

  private setRole(softState: SoftState): void {
    const wasLeader = this.isLeader();
    // Elections are rare and their course is what an operator reads after a slow failover (etcd logs it too).
    if (softState.role !== this.role && softState.role !== 'leader' && this.role !== 'leader') {
      this.options.logger.info('raft role changed', { from: this.role, to: softState.role, term: this.node.status().term, lead: softState.lead });
    }
    this.role = softState.role;
    this.lead = softState.lead;
    this.leaderChanges.observe(softState.lead);
    const isLeader = this.isLeader();
    if (wasLeader && !isLeader) {
      for (const round of this.readRounds.splice(0)) for (const read of round.reads) read.reject(NotLeaderError.of(this.leaderHint()));
      for (const read of this.queuedReads.splice(0)) read.reject(NotLeaderError.of(this.leaderHint()));
    }
    if (wasLeader !== isLeader) {
      this.options.logger.info(isLeader ? 'became leader' : 'no longer leader', { term: this.node.status().term, lead: this.lead });
      this.leadershipListeners.emit(isLeader);
    }
  }

  // ---------------------------------------------------------------- linearizable reads

  /** Sends the queued reads in one ReadIndex round, unless a round is already waiting for its index. */
  private startReadRound(): void {
    if (this.queuedReads.length === 0 || this.readRounds.some((r) => r.index === null)) return;
    if (!this.isLeader()) {
      for (const read of this.queuedReads.splice(0)) read.reject(NotLeaderError.of(this.leaderHint()));
      return;
    }
    const ctx = `${this.options.replicaId}:${++this.readSequence}`;
    const requested = this.noteHeartbeats(() => this.node.readIndex(ctx));
    if (!requested.ok) {
      for (const read of this.queuedReads.splice(0)) read.reject(NotLeaderError.of(this.leaderHint()));
      return;
    }
    this.readRounds.push({ ctx, reads: this.queuedReads.splice(0), index: null });
    this.kick();
  }

  private readIndexesConfirmed(readStates: readonly ReadState[]): void {
    for (const { ctx, index } of readStates) {
      const round = this.readRounds.find((r) => r.ctx === ctx);
      if (round) round.index = index;
    }
  }

  private serveReads(): void {
    for (let i = 0; i < this.readRounds.length; ) {
      const round = this.readRounds[i]!;
      if (round.index !== null && round.index <= this.appliedIndex) {
        this.readRounds.splice(i, 1);
        for (const read of round.reads) read.run();
      } else i++;
    }
  }

  private dropRead(read: PendingRead): void {
    const queued = this.queuedReads.indexOf(read);
    if (queued !== -1) this.queuedReads.splice(queued, 1);
    for (const round of this.readRounds) {
      const at = round.reads.indexOf(read);
      if (at !== -1) round.reads.splice(at, 1);
    }
  }

  // ---------------------------------------------------------------- failure and shutdown

  private checkOpen(): void {
    if (this.failure) throw new ReplicaStoppedError();
    if (this.closed) throw new LogClosedError();
  }

  private fail(error: unknown): void {
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.options.logger.error('raft replica stopped: its log could not be written', { error: this.failure });
    if (this.ticker) clearInterval(this.ticker);
    this.failAll(new ReplicaStoppedError());
    this.setRole({ lead: null, role: 'follower' });
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (const queued of this.queuedProposals.splice(0)) queued.reject(error);
    for (const round of this.readRounds.splice(0)) for (const read of round.reads) read.reject(error);
    for (const read of this.queuedReads.splice(0)) read.reject(error);
  }
}
