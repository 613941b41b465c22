import type { CommandResult } from '../../coordinator/core/index.js';
import { RaftNode, type RaftNodeOptions } from '../../coordinator/raft/node.js';
import type { ConfChange, Entry, Message, NodeId, ReadState, RecoveredState } from '../../coordinator/raft/types.js';
import { allocationModel, checkNoSharedKeys, type AllocationOperation } from '../support/allocation-model.js';
import { checkLinearizable } from '../support/linearizability.js';
import { intBetween, pick, seededRandom } from '../support/prng.js';
import { SafetyChecker, SafetyViolation } from './invariants.js';
import { Network, type LinkFaults } from './network.js';
import { Replica } from './replica.js';
import { Scheduler } from './scheduler.js';
import { CoreStateMachine } from './state-machine.js';
import { ClientHistory, Workload } from './workload.js';

export type Intensity = 0 | 1 | 2;

export interface SimOptions {
  readonly seed: number;
  readonly replicas: 3 | 5;
  /** 0: a mostly healthy network; 2: heavy loss, long delays, frequent crashes, pauses and partitions. */
  readonly intensity: Intensity;
  /** Virtual ms of faults and client load, followed by a heal phase of at most `healMs`. */
  readonly chaosMs: number;
  readonly healMs: number;
  /**
   * Budget of the client history's linearizability check in search steps (default 1,000,000); past it
   * the seed fails as undecided. Counted in steps, not time, so that a seed's verdict is the same on a
   * busy machine as on an idle one.
   */
  readonly linearizabilityMaxSteps?: number;
  /** Receives one line per notable event, to debug a replayed seed. */
  readonly trace?: (line: string) => void;
}

export interface SimReport {
  readonly seed: number;
  readonly replicas: number;
  readonly intensity: Intensity;
  readonly steps: number;
  readonly messages: number;
  readonly acknowledged: number;
  readonly reads: number;
  readonly committedIndex: number;
  /** The highest term reached: roughly how many elections the faults caused. */
  readonly finalTerm: number;
  readonly faults: number;
  readonly membershipChanges: number;
  /** Client operations in the history (Claim, Release, ExpireLease proposals), and how many were answered. */
  readonly operations: number;
  readonly answered: number;
  /** What the linearizability check cost (an illegal or undecided history fails the seed instead). */
  readonly linearizabilityMs: number;
  readonly linearizabilitySteps: number;
}

/** The defaults `run-sim.ts` and the test use: the seed alone decides size and intensity. */
export function optionsForSeed(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  return { seed, replicas: seed % 2 === 0 ? 3 : 5, intensity: (Math.floor(seed / 2) % 3) as Intensity, chaosMs: 3000, healMs: 6000, ...overrides };
}

export function replayCommand(options: SimOptions): string {
  return `npx tsx test/sim/run-sim.ts --seed ${options.seed} --replicas ${options.replicas} --intensity ${options.intensity}`;
}

export type FailureKind = 'safety violation' | 'linearizability undecided' | 'failure' | 'crash';

/** A failed seed: the message says what broke and how to replay it. */
export class SimFailure extends Error {
  override readonly name = 'SimFailure';

  constructor(
    message: string,
    readonly kind: FailureKind = 'failure',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * The checker found no verdict within its budget. That fails the seed like a violation would: an
 * undecided history is one nobody checked, and the illegal ones are the likeliest to run long.
 */
export class LinearizabilityUndecided extends Error {
  override readonly name = 'LinearizabilityUndecided';
}

/** A hundred times the default budget, to rerun an undecided seed with. */
const GENEROUS_LINEARIZABILITY_STEPS = 100_000_000;

const ELECTION_TICKS = 10;
/**
 * Default budget of the client history's linearizability check. The costliest correct history of seeds
 * 1..10,000 takes under 3,000 steps (a few ms); illegal ones, which a search must exhaust, can take far
 * longer, and an undecided seed fails as an illegal one would.
 */
const LINEARIZABILITY_MAX_STEPS = 1_000_000;
const BASE_TICK_MS = 10;

interface PendingProposal {
  readonly term: number;
  readonly data: string;
  /** Its operation in the client history; null for commands no client sees (ConfigurePool, ImportKeys…). */
  readonly op: AllocationOperation | null;
}

interface Proposed {
  readonly replica: NodeId;
  readonly index: number;
  readonly term: number;
}

interface PendingRead {
  readonly replica: NodeId;
  /** The highest acknowledged write when the read was issued: a linearizable read must see it. */
  readonly mustSee: number;
}

/**
 * One seeded run: `replicas` RaftNodes over a faulty network with crashing, pausing, slow-disk
 * replicas and skewed clocks, a client proposing allocation commands, and every safety invariant
 * checked after each step. Then everything heals and the cluster must converge and make progress.
 */
export class SimCluster {
  readonly scheduler = new Scheduler();
  readonly random: () => number;
  readonly network: Network;
  readonly replicas = new Map<NodeId, Replica<CoreStateMachine>>();
  readonly checker = new SafetyChecker<CoreStateMachine>(5, (id) => this.replicas.get(id)?.disk);
  private readonly workload: Workload;
  readonly history = new ClientHistory();
  private linearizabilityCost = { ms: 0, steps: 0 };
  private readonly proposals = new Map<NodeId, Map<number, PendingProposal>>();
  /**
   * Commands whose outcome the client never learned (entry overwritten, replica crashed or retired);
   * retried as they were, so some apply twice: no sessions here, only a Release's request id dedupes.
   */
  private readonly retries: string[] = [];
  private readonly acknowledged: Entry[] = [];
  private readonly acknowledgedKeys = new Set<string>();
  private maxAcknowledgedIndex = 0;
  private readonly reads = new Map<string, PendingRead>();
  private readCount = 0;
  private steps = 0;
  private faults = 0;
  private chaos = true;
  private readonly raftOptions: Omit<RaftNodeOptions, 'id' | 'peers' | 'random' | 'storage'>;
  private readonly compactEvery: number;
  /** How much of the applied log nodes keep in memory (null: all of it); drawn apart so seeds keep their other draws. */
  private readonly memoryTailChars: number | null;
  private replicasCreated = 0;
  /** Membership changes proposed and not yet known committed or lost, by the replica they concern. */
  private readonly pendingChanges = new Map<NodeId, { readonly change: ConfChange; readonly index: number; readonly term: number }>();
  private membershipChanges = 0;

  constructor(private readonly options: SimOptions) {
    this.random = seededRandom(options.seed);
    const random = this.random;
    this.workload = new Workload(seededRandom(options.seed ^ 0x5eed));
    this.network = new Network(this.scheduler, random, (m) => this.deliver(m));
    this.network.links = this.randomLinks();
    this.raftOptions = {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      preVote: random() < 0.85,
      checkQuorum: random() < 0.85,
      maxInflightMsgs: intBetween(random, 1, 8),
      maxEntriesPerMsg: intBetween(random, 1, 16),
      snapshotChunkSize: pick(random, [512, 2048, 16384]),
    };
    this.compactEvery = intBetween(random, 8, 40);
    this.memoryTailChars = pick(seededRandom(options.seed ^ 0x7a11), [null, 0, 300, 3000]);
    this.trace(`${JSON.stringify(this.raftOptions)} compactEvery=${this.compactEvery} memoryTailChars=${this.memoryTailChars ?? 'all'}`);
    const initial = Array.from({ length: options.replicas }, (_, i) => `n${i + 1}`);
    for (const id of initial) this.addReplica(id, initial);
  }

  /** Creates a replica with an empty disk; `peers` is its bootstrap configuration (empty for a joiner). */
  private addReplica(id: NodeId, peers: readonly NodeId[]): Replica<CoreStateMachine> {
    const random = this.random;
    const nodeRandom = seededRandom(this.options.seed * 31 + this.replicasCreated++);
    const slowDisk = random() < 0.5;
    const memoryTailChars = this.memoryTailChars;
    const durableEntries = memoryTailChars === null ? {} : { durableEntries: { read: (from: number, through: number) => replica.disk.readEntries(from, through), memoryTailChars } };
    const makeNode = (storage: RecoveredState) => new RaftNode({ ...this.raftOptions, ...durableEntries, id, peers, random: nodeRandom, storage });
    const replica: Replica<CoreStateMachine> = new Replica(id, makeNode, () => new CoreStateMachine(), {
      send: (messages) => this.network.send(messages),
      schedule: (delay, run) => this.scheduler.after(delay, () => this.step(replica, run)),
      persistLatency: () => (slowDisk ? intBetween(random, 1, 12) : 0),
      observer: {
        persisted: (r, ready) => this.checker.persisted(r, ready),
        applied: (r, entry, result) => this.applied(r, entry, result as CommandResult | null),
        restored: (r, index) => this.checker.restored(r, index),
        readStates: (r, readStates) => this.readStatesReady(r.id, readStates),
      },
    }, this.compactEvery);
    this.replicas.set(id, replica);
    // Clock-rate skew: each replica's tick is a little faster or slower than the nominal one.
    const tickMs = Math.round(BASE_TICK_MS * (0.7 + 0.7 * random()));
    const tick = () => {
      if (this.replicas.get(id) !== replica) return; // retired
      this.step(replica, () => replica.tick());
      this.scheduler.after(tickMs, tick);
    };
    this.scheduler.after(intBetween(random, 1, tickMs), tick);
    return replica;
  }

  private get ids(): NodeId[] {
    return [...this.replicas.keys()];
  }

  /** Runs the seed to the end; throws SimFailure naming the seed on any violation. */
  run(): SimReport {
    try {
      for (const replica of this.replicas.values()) replica.start();
      this.scheduleClient();
      this.scheduleFaults();
      this.runUntil(this.options.chaosMs);
      this.healEverything();
      this.converge();
    } catch (error) {
      const what = error instanceof Error ? error.message : String(error);
      const kind: FailureKind =
        error instanceof SafetyViolation
          ? 'safety violation'
          : error instanceof LinearizabilityUndecided
            ? 'linearizability undecided'
            : error instanceof SimFailure
              ? 'failure'
              : 'crash';
      const replay =
        kind === 'linearizability undecided' ? `${replayCommand(this.options)} --lin-steps ${GENEROUS_LINEARIZABILITY_STEPS}` : `${replayCommand(this.options)} --trace`;
      throw new SimFailure(
        `seed ${this.options.seed} (${this.options.replicas} replicas, intensity ${this.options.intensity}): ${kind} at t=${this.scheduler.now}: ${what}\n  replay: ${replay}`,
        kind,
        { cause: error },
      );
    }
    return {
      seed: this.options.seed,
      replicas: this.options.replicas,
      intensity: this.options.intensity,
      steps: this.steps,
      messages: this.network.sent,
      acknowledged: this.acknowledged.length,
      reads: this.readCount,
      committedIndex: Math.max(...[...this.replicas.values()].map((r) => r.appliedIndex)),
      finalTerm: Math.max(...[...this.replicas.values()].map((r) => r.node!.status().term)),
      faults: this.faults,
      membershipChanges: this.membershipChanges,
      operations: this.history.operations.length,
      answered: this.history.operations.filter((op) => op.return !== null).length,
      linearizabilityMs: this.linearizabilityCost.ms,
      linearizabilitySteps: this.linearizabilityCost.steps,
    };
  }

  private runUntil(time: number): void {
    while (this.scheduler.runNext(time));
    this.scheduler.advanceTo(time);
  }

  /** Every input to a replica goes through here, so that the invariants are checked after each step. */
  private step(replica: Replica<CoreStateMachine>, action: () => void): void {
    action();
    this.steps++;
    this.checker.checkRoles(replica);
  }

  private deliver(m: Message): void {
    const replica = this.replicas.get(m.to);
    if (replica !== undefined) this.step(replica, () => replica.deliver(m));
  }

  // ---------------------------------------------------------------- client

  private leaders(): Replica<CoreStateMachine>[] {
    return [...this.replicas.values()].filter((r) => r.node !== null && !r.paused && r.node.status().role === 'leader');
  }

  private scheduleClient(): void {
    const propose = () => {
      if (!this.chaos) return;
      this.proposeOnce();
      this.scheduler.after(intBetween(this.random, 5, 30), propose);
    };
    const read = () => {
      if (!this.chaos) return;
      this.readOnce();
      this.scheduler.after(intBetween(this.random, 20, 80), read);
    };
    this.scheduler.after(1, propose);
    this.scheduler.after(1, read);
  }

  /** Proposes to whichever replica believes it leads (a stale leader too: its proposal must just fail). */
  private proposeOnce(data?: string): Proposed | null {
    const leaders = this.leaders();
    if (leaders.length === 0) return null;
    const leader = pick(this.random, leaders);
    const command = data ?? this.retries.shift() ?? JSON.stringify(this.workload.next(this.scheduler.now, leader.stateMachine.state));
    const result = leader.node!.propose(command);
    if (!result.ok) {
      if (data === undefined) this.retries.push(command);
      return null;
    }
    let pending = this.proposals.get(leader.id);
    if (pending === undefined) this.proposals.set(leader.id, (pending = new Map()));
    const op = this.history.proposed(command, this.scheduler.now, `${leader.id}@${result.index}/${result.term}`);
    pending.set(result.index, { term: result.term, data: command, op });
    this.step(leader, () => leader.drive());
    return { replica: leader.id, index: result.index, term: result.term };
  }

  private applied(replica: Replica<CoreStateMachine>, entry: Entry, result: CommandResult | null): void {
    this.checker.applied(replica, entry);
    const violation = replica.stateMachine.keyHolderViolation();
    if (violation !== null) throw new SafetyViolation(`${replica.id} at index ${entry.index}: ${violation}`);
    const pending = this.proposals.get(replica.id);
    const proposal = pending?.get(entry.index);
    if (proposal === undefined) return;
    pending!.delete(entry.index);
    if (proposal.term === entry.term && proposal.data === entry.data) {
      // Applied on the leader that proposed it: the client gets `result` back. It must never be lost.
      if (result === null) throw new SafetyViolation(`proposal at ${entry.index} applied as a ${entry.type} entry`);
      this.acknowledged.push(entry);
      this.acknowledgedKeys.add(`${entry.index}/${entry.term}`);
      this.maxAcknowledgedIndex = Math.max(this.maxAcknowledgedIndex, entry.index);
      if (proposal.op !== null) this.history.answered(proposal.op, result, this.scheduler.now);
    } else {
      this.retries.push(proposal.data);
    }
  }

  private readOnce(): void {
    const leaders = this.leaders();
    if (leaders.length === 0) return;
    const leader = pick(this.random, leaders);
    const ctx = `read-${this.readCount++}`;
    if (!leader.node!.readIndex(ctx).ok) return;
    this.reads.set(ctx, { replica: leader.id, mustSee: this.maxAcknowledgedIndex });
    this.step(leader, () => leader.drive());
  }

  private readStatesReady(replica: NodeId, readStates: readonly ReadState[]): void {
    for (const { ctx, index } of readStates) {
      const read = this.reads.get(ctx);
      if (read === undefined || read.replica !== replica) throw new SafetyViolation(`${replica} answered read ${ctx} it was not asked`);
      this.reads.delete(ctx);
      if (index < read.mustSee) {
        throw new SafetyViolation(`stale read ${ctx} on ${replica}: read index ${index}, but ${read.mustSee} was acknowledged before the read began`);
      }
    }
  }

  // ---------------------------------------------------------------- faults

  private randomLinks(): LinkFaults {
    const r = this.random;
    switch (this.options.intensity) {
      case 0:
        return { loss: 0.02 * r(), duplicate: 0.02 * r(), minDelay: 1, maxDelay: intBetween(r, 1, 5) };
      case 1:
        return { loss: 0.1 * r(), duplicate: 0.05 * r(), minDelay: 1, maxDelay: intBetween(r, 5, 20) };
      case 2:
        return { loss: 0.25 * r(), duplicate: 0.1 * r(), minDelay: 1, maxDelay: intBetween(r, 10, 40) };
    }
  }

  private scheduleFaults(): void {
    const gap = [400, 200, 80][this.options.intensity]!;
    const next = () => {
      if (!this.chaos) return;
      this.injectFault();
      this.scheduler.after(intBetween(this.random, gap / 2, gap * 2), next);
    };
    this.scheduler.after(intBetween(this.random, gap / 2, gap * 2), next);
  }

  private injectFault(): void {
    const r = this.random;
    const ids = this.ids;
    const replica = this.replicas.get(pick(r, ids))!;
    this.faults++;
    switch (pick(r, ['isolate', 'split', 'oneWay', 'crash', 'pause', 'links', 'transfer', 'heal', 'membership'] as const)) {
      case 'isolate':
        this.trace(`isolate ${replica.id}`);
        this.network.partition([replica.id], ids.filter((id) => id !== replica.id));
        this.scheduler.after(intBetween(r, 50, 600), () => this.heal());
        return;
      case 'split': {
        const shuffled = [...ids].sort(() => r() - 0.5);
        const cut = intBetween(r, 1, ids.length - 1);
        this.trace(`split ${shuffled.slice(0, cut)} | ${shuffled.slice(cut)}`);
        this.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        this.scheduler.after(intBetween(r, 50, 600), () => this.heal());
        return;
      }
      case 'oneWay': {
        const to = pick(r, ids.filter((id) => id !== replica.id));
        this.trace(`cut ${replica.id} -> ${to}`);
        this.network.cutOneWay(replica.id, to);
        this.scheduler.after(intBetween(r, 50, 600), () => this.heal());
        return;
      }
      case 'crash': {
        if (!replica.up) return;
        const writeSurvives = r() < 0.5;
        this.trace(`crash ${replica.id} (in-flight write ${replica.disk.isWriting() ? (writeSurvives ? 'survives' : 'torn') : 'none'})`);
        this.step(replica, () => replica.crash(writeSurvives));
        this.abandonProposals(replica.id);
        this.scheduler.after(intBetween(r, 20, 500), () => this.restart(replica));
        return;
      }
      case 'pause':
        if (!replica.up || replica.paused) return;
        this.trace(`pause ${replica.id}`);
        replica.pause();
        this.scheduler.after(intBetween(r, 20, 400), () => this.step(replica, () => replica.resume()));
        return;
      case 'links':
        this.network.links = this.randomLinks();
        this.trace(`links ${JSON.stringify(this.network.links)}`);
        return;
      case 'transfer': {
        const leader = this.leaders()[0];
        if (leader === undefined) return;
        const to = pick(r, ids.filter((id) => id !== leader.id));
        this.trace(`transfer ${leader.id} -> ${to}`);
        leader.node!.transferLeadership(to);
        this.step(leader, () => leader.drive());
        return;
      }
      case 'heal':
        this.heal();
        return;
      case 'membership':
        this.changeMembership();
        return;
    }
  }

  /**
   * One single-server change, cycling through the life of a replacement: add a fresh learner (empty
   * disk, new identity), promote it, remove some other voter. The leader may refuse (a change pending,
   * no commit in its term yet); a proposed change may be lost with its entry.
   */
  private changeMembership(): void {
    this.settleMembershipChanges();
    const leader = this.leaders()[0];
    if (leader === undefined) return;
    const { voters, learners } = leader.node!.confState();
    let change: ConfChange;
    if (learners.length > 0) change = { type: 'promoteLearner', nodeId: learners[0]! };
    else if (voters.length > this.options.replicas) change = { type: 'removeNode', nodeId: pick(this.random, voters.filter((id) => id !== leader.id)) };
    else change = { type: 'addLearner', nodeId: `n${this.replicasCreated + 1}` };
    const result = leader.node!.proposeConfChange(change);
    this.trace(`${change.type} ${change.nodeId} on ${leader.id}: ${result.ok ? `index ${result.index}` : result.refusal.code}`);
    if (!result.ok) return;
    this.membershipChanges++;
    this.pendingChanges.set(change.nodeId, { change, index: result.index, term: result.term });
    if (change.type === 'addLearner') this.addReplica(change.nodeId, []).start();
    this.step(leader, () => leader.drive());
  }

  /**
   * Settles proposed changes whose fate is known: a committed removal retires the replica (an operator
   * shuts a removed server down; left running, it would campaign with a configuration nobody shares);
   * a lost addition retires the replica that was started for it.
   */
  private settleMembershipChanges(): void {
    for (const [id, { change, index, term }] of this.pendingChanges) {
      const committed = this.checker.committed.get(index);
      if (committed === undefined) continue;
      this.pendingChanges.delete(id);
      const applied = committed.term === term;
      if ((change.type === 'removeNode' && applied) || (change.type === 'addLearner' && !applied)) this.retire(id);
    }
  }

  private retire(id: NodeId): void {
    const replica = this.replicas.get(id);
    if (replica === undefined) return;
    this.trace(`retire ${id}`);
    if (replica.up) replica.crash(false);
    this.checker.checkRoles(replica);
    this.replicas.delete(id);
    this.abandonProposals(id);
  }

  /**
   * The replica went away with proposals unanswered: their clients time out and retry (the ops stay
   * indeterminate). Each may have committed already, so a retry can apply twice: a Claim gets the
   * pod's lease back, a Release with a request id its first answer, others LEASE_NOT_FOUND.
   */
  private abandonProposals(id: NodeId): void {
    for (const proposal of this.proposals.get(id)?.values() ?? []) this.retries.push(proposal.data);
    this.proposals.delete(id);
  }

  private heal(): void {
    this.trace('heal network');
    this.network.heal();
  }

  private restart(replica: Replica<CoreStateMachine>): void {
    if (replica.up) return;
    this.trace(`restart ${replica.id}`);
    this.step(replica, () => replica.start());
  }

  // ---------------------------------------------------------------- the end of a seed

  private healEverything(): void {
    this.chaos = false;
    this.network.heal();
    this.network.links = { loss: 0, duplicate: 0, minDelay: 1, maxDelay: 5 };
    for (const replica of this.replicas.values()) {
      if (!replica.up) this.restart(replica);
      else this.step(replica, () => replica.resume());
    }
    this.trace('healed everything');
  }

  /**
   * Liveness after healing: a leader emerges, a fresh proposal commits, and every replica applies
   * the same log to the same state. Then no acknowledged command may be missing.
   */
  private converge(): void {
    const deadline = this.scheduler.now + this.options.healMs;
    let finalProposal: Proposed | null = null;
    let proposedAt = 0;
    while (this.scheduler.now < deadline) {
      this.runUntil(this.scheduler.now + 20);
      this.settleMembershipChanges();
      const acknowledged = finalProposal !== null && this.acknowledgedKeys.has(`${finalProposal.index}/${finalProposal.term}`);
      const members = acknowledged ? this.convergedMembers() : null;
      if (members !== null) return this.checkFinalState(members);
      // Like a real client, give up on an answer after a while (the entry may have been overwritten) and retry.
      if (!acknowledged && this.scheduler.now - proposedAt >= 300) {
        finalProposal = this.proposeOnce(JSON.stringify({ type: 'FinishCooling', nowMs: this.scheduler.now }));
        proposedAt = this.scheduler.now;
      }
    }
    const status = [...this.replicas.values()].map((r) => `${r.id}: ${r.node ? JSON.stringify(r.node.status()) : 'down'}`).join('\n    ');
    throw new SimFailure(`no convergence within ${this.options.healMs} ms after healing:\n    ${status}`);
  }

  /** The members of the final configuration, once one leader leads and they all applied its commit index. */
  private convergedMembers(): Replica<CoreStateMachine>[] | null {
    const leaders = this.leaders();
    if (leaders.length !== 1) return null;
    const leader = leaders[0]!.node!;
    const { voters, learners } = leader.confState();
    const members = [...voters, ...learners].map((id) => this.replicas.get(id));
    const converged = members.every((r) => r !== undefined && r.appliedIndex === leader.status().commit);
    return converged ? (members as Replica<CoreStateMachine>[]) : null;
  }

  private checkFinalState(replicas: Replica<CoreStateMachine>[]): void {
    const hashes = new Set(replicas.map((r) => r.stateMachine.hash()));
    if (hashes.size !== 1) throw new SafetyViolation(`replicas applied up to the same index but hold ${hashes.size} different states`);
    for (const entry of this.acknowledged) {
      const committed = this.checker.committed.get(entry.index);
      if (committed?.term !== entry.term || committed.data !== entry.data) {
        throw new SafetyViolation(`acknowledged command at ${entry.index}/${entry.term} is not in the final log`);
      }
    }
    this.checkClientHistory();
  }

  /**
   * What the clients saw must be linearizable against the allocation model (per pod), and no key may
   * be held by two pods at once as far as the answers show. A history not decided within the budget
   * fails the seed too.
   */
  private checkClientHistory(): void {
    const history = this.history.operations;
    const started = performance.now();
    const verdict = checkLinearizable(allocationModel, history, { maxSteps: this.options.linearizabilityMaxSteps ?? LINEARIZABILITY_MAX_STEPS });
    this.linearizabilityCost = { ms: performance.now() - started, steps: verdict.steps };
    if (verdict.result === 'illegal') throw new SafetyViolation(`client history (${history.length} operations) is not linearizable (found in ${verdict.steps} search steps): ${verdict.info}`);
    if (verdict.result === 'unknown') throw new LinearizabilityUndecided(`client history (${history.length} operations): ${verdict.info}`);
    const shared = checkNoSharedKeys(history)[0];
    if (shared !== undefined) {
      const [a, b] = shared.holdings;
      throw new SafetyViolation(
        `client history: key ${shared.pubKey} held by ${a.podName} (${a.leaseId}, from t=${a.from} to ${a.until}) and ${b.podName} (${b.leaseId}, from t=${b.from} to ${b.until}) at once`,
      );
    }
  }

  private trace(line: string): void {
    this.options.trace?.(`${String(this.scheduler.now).padStart(6)} ${line}`);
  }
}

export function runSeed(options: SimOptions): SimReport {
  return new SimCluster(options).run();
}
