import { RaftNode, type RaftNodeOptions } from '../../coordinator/raft/node.js';
import type { Message, NodeId, ReadState, RecoveredState } from '../../coordinator/raft/types.js';
import { seededRandom } from '../support/prng.js';
import { SafetyChecker } from './invariants.js';
import type { SimDisk } from './disk.js';
import { Replica } from './replica.js';
import { EntryListStateMachine } from './state-machine.js';

/** Decides the fate of a message in flight: deliver it (as is or altered) or drop it (null). */
export type Interference = (m: Message) => Message | null;

export type LabOptions = Partial<Omit<RaftNodeOptions, 'id' | 'peers' | 'storage' | 'random'>> & {
  /** Take a snapshot and compact once this many applied entries are in a log. */
  readonly compactEvery?: number;
  /** Nodes drop applied entries beyond this much from memory and read them back from their disk. */
  readonly memoryTailChars?: number;
};

/**
 * A lockstep harness for scenario tests, in the spirit of etcd's raft_test network: no clock, no
 * randomness in delivery. Messages wait in one FIFO queue until the test delivers them (all, or all
 * but those a filter drops); ticks go to the nodes the test names. Disks are synchronous, and the same
 * safety checks as the simulation run on every step.
 */
export class Lab {
  readonly replicas = new Map<NodeId, Replica<EntryListStateMachine>>();
  readonly checker = new SafetyChecker<EntryListStateMachine>(1, (id) => this.replicas.get(id)?.disk);
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Every message sent, in order, for tests that assert on the traffic itself. */
  readonly sent: Message[] = [];
  private readonly queue: Message[] = [];
  private readonly cut = new Set<string>();
  private readonly nodeOptions: Omit<RaftNodeOptions, 'id' | 'peers' | 'storage' | 'random'>;
  private readonly compactEvery: number;
  private readonly memoryTailChars: number | undefined;

  constructor(ids: readonly NodeId[], options: LabOptions = {}) {
    const { compactEvery = Number.POSITIVE_INFINITY, memoryTailChars, ...nodeOptions } = options;
    this.compactEvery = compactEvery;
    this.memoryTailChars = memoryTailChars;
    this.nodeOptions = {
      electionTicks: 10,
      heartbeatTicks: 1,
      preVote: false,
      checkQuorum: false,
      maxInflightMsgs: 4,
      maxEntriesPerMsg: 8,
      snapshotChunkSize: 1024,
      ...nodeOptions,
    };
    for (const id of ids) this.addReplica(id, ids);
  }

  /** Starts a replica with an empty disk; `peers` is its bootstrap configuration (empty for a joiner). */
  addReplica(id: NodeId, peers: readonly NodeId[]): Replica<EntryListStateMachine> {
    const random = seededRandom([...id].reduce((h, c) => h * 31 + c.charCodeAt(0), 7));
    const memoryTailChars = this.memoryTailChars;
    const durableEntries = memoryTailChars === undefined ? {} : { durableEntries: { read: (from: number, through: number) => replica.disk.readEntries(from, through), memoryTailChars } };
    const makeNode = (storage: RecoveredState) => new RaftNode({ ...this.nodeOptions, ...durableEntries, id, peers, random, storage });
    const replica: Replica<EntryListStateMachine> = new Replica(id, makeNode, () => new EntryListStateMachine(), {
      send: (messages) => {
        this.sent.push(...messages);
        this.queue.push(...messages);
      },
      schedule: () => {
        throw new Error('the lab disk is synchronous');
      },
      persistLatency: () => 0,
      observer: {
        persisted: (r, ready) => this.checker.persisted(r, ready),
        applied: (r, entry) => this.checker.applied(r, entry),
        restored: (r, index) => this.checker.restored(r, index),
        readStates: (r, states) => this.readStates.set(r.id, [...(this.readStates.get(r.id) ?? []), ...states]),
      },
    }, this.compactEvery);
    this.replicas.set(id, replica);
    replica.start();
    this.checker.checkRoles(replica);
    return replica;
  }

  replica(id: NodeId): Replica<EntryListStateMachine> {
    return this.replicas.get(id)!;
  }

  node(id: NodeId): RaftNode {
    const node = this.replica(id).node;
    if (node === null) throw new Error(`${id} is down`);
    return node;
  }

  /** Runs `action` on a replica's node, then lets the replica carry out the resulting Ready batches. */
  act<T>(id: NodeId, action: (node: RaftNode) => T): T {
    const result = action(this.node(id));
    this.replica(id).drive();
    this.checker.checkRoles(this.replica(id));
    return result;
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.replica(id).tick();
      this.checker.checkRoles(this.replica(id));
    }
  }

  /**
   * Delivers queued messages, and those they cause, until none are left. Messages over a cut link or
   * to a crashed replica are lost; `interfere` may drop a message (return null) or alter it in flight.
   * Returns how many were delivered.
   */
  deliverAll(interfere: Interference = (m) => m): number {
    let delivered = 0;
    for (let queued = this.queue.shift(); queued !== undefined; queued = this.queue.shift()) {
      if (this.cut.has(`${queued.from}>${queued.to}`)) continue;
      const m = interfere(queued);
      const replica = this.replicas.get(queued.to);
      if (m === null || replica === undefined) continue;
      replica.deliver(m);
      this.checker.checkRoles(replica);
      delivered++;
      if (delivered > 100_000) throw new Error('message storm: the cluster does not quiesce');
    }
    return delivered;
  }

  /** Ticks `id` until it asks for (pre-)votes, then delivers everything; true if it became leader. */
  campaign(id: NodeId, interfere?: Interference): boolean {
    const asked = () => this.sent.filter((m) => m.from === id && (m.type === 'vote' || m.type === 'preVote')).length;
    const before = asked();
    for (let i = 0; i < 2 * this.nodeOptions.electionTicks && asked() === before && this.node(id).status().role !== 'leader'; i++) this.tick(id);
    this.deliverAll(interfere);
    return this.node(id).status().role === 'leader';
  }

  /** Campaigns until `id` leads (a first attempt may only teach it the current term). */
  elect(id: NodeId, interfere?: Interference): void {
    for (let attempt = 0; attempt < 5; attempt++) if (this.campaign(id, interfere)) return;
    throw new Error(`${id} could not be elected: ${JSON.stringify(this.node(id).status())}`);
  }

  /** `rounds` times: ticks every leader once (a heartbeat) and delivers everything. */
  heartbeatRounds(rounds: number, interfere?: Interference): void {
    for (let i = 0; i < rounds; i++) {
      for (const replica of this.replicas.values()) {
        if (replica.node?.status().role === 'leader') this.tick(replica.id);
      }
      this.deliverAll(interfere);
    }
  }

  isolate(id: NodeId): void {
    for (const other of this.replicas.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  crash(id: NodeId): void {
    this.replica(id).crash(false);
    this.checker.checkRoles(this.replica(id));
  }

  restart(id: NodeId): void {
    this.replica(id).start();
    this.checker.checkRoles(this.replica(id));
  }

  leaders(): NodeId[] {
    return [...this.replicas.values()].filter((r) => r.node?.status().role === 'leader').map((r) => r.id);
  }

  disk(id: NodeId): SimDisk {
    return this.replica(id).disk;
  }

  /** What the state machine of `id` has applied (normal entries' data, in order). */
  applied(id: NodeId): string[] {
    return this.replica(id).stateMachine.applied;
  }
}
