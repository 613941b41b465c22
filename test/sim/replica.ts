import type { RaftNode } from '../../coordinator/raft/node.js';
import type { Entry, Message, NodeId, ReadState, Ready, RecoveredState } from '../../coordinator/raft/types.js';
import { SimDisk } from './disk.js';
import type { ReplicatedStateMachine } from './state-machine.js';

/** Hooks through which the invariant checks see every durable write and every applied entry. */
export interface ReplicaObserver<SM extends ReplicatedStateMachine> {
  persisted(replica: Replica<SM>, ready: Ready): void;
  applied(replica: Replica<SM>, entry: Entry, result: unknown): void;
  /** The state machine was replaced by a snapshot (received from the leader, or read at restart). */
  restored(replica: Replica<SM>, snapshotIndex: number): void;
  readStates(replica: Replica<SM>, readStates: readonly ReadState[]): void;
}

export interface ReplicaEnv<SM extends ReplicatedStateMachine> {
  send(messages: readonly Message[]): void;
  schedule(delay: number, run: () => void): void;
  /** Virtual time a Ready's batch takes to become durable (0: at once). */
  persistLatency(): number;
  observer: ReplicaObserver<SM>;
}

/**
 * One simulated server: a RaftNode, its disk and its state machine, driven the way a real driver must:
 * send `messages`, persist the batch, then send `messagesAfterPersist`, install the snapshot, apply
 * committed entries, advance(). Crashing drops the node and state machine; only the disk survives.
 */
export class Replica<SM extends ReplicatedStateMachine> {
  readonly disk = new SimDisk();
  node: RaftNode | null = null;
  stateMachine: SM;
  appliedIndex = 0;
  paused = false;
  /** Messages that reached the process while it was paused (SIGSTOP): handled on resume. */
  private inbox: Message[] = [];
  /** A write whose sync completed while paused: the process notices it on resume. */
  private syncedWhilePaused: Ready | null = null;
  /** Distinguishes a write's completion from one started before a crash. */
  private incarnation = 0;

  constructor(
    readonly id: NodeId,
    private readonly makeNode: (recovered: RecoveredState) => RaftNode,
    private readonly makeStateMachine: () => SM,
    private readonly env: ReplicaEnv<SM>,
    /** Take a snapshot and compact once this many applied entries are in the log. */
    private readonly compactEvery: number,
  ) {
    this.stateMachine = makeStateMachine();
  }

  get up(): boolean {
    return this.node !== null;
  }

  /** Starts (or restarts) from whatever the disk holds. */
  start(): void {
    const recovered = this.disk.recover();
    this.node = this.makeNode(recovered);
    this.stateMachine = this.makeStateMachine();
    this.appliedIndex = 0;
    this.paused = false;
    if (recovered.snapshot !== null) {
      this.stateMachine.restore(recovered.snapshot.data);
      this.appliedIndex = recovered.snapshot.meta.index;
      this.env.observer.restored(this, this.appliedIndex);
    }
    this.drive();
  }

  /** Loses everything but the disk. `writeSurvives`: an in-flight batch had been fully written. */
  crash(writeSurvives: boolean): void {
    this.incarnation++;
    this.node = null;
    this.inbox = [];
    this.syncedWhilePaused = null;
    this.paused = false;
    this.disk.crash(writeSurvives);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const synced = this.syncedWhilePaused;
    this.syncedWhilePaused = null;
    if (synced !== null) this.completeWrite(synced);
    const inbox = this.inbox;
    this.inbox = [];
    for (const m of inbox) this.node?.step(m);
    this.drive();
  }

  tick(): void {
    if (this.node === null || this.paused) return;
    this.node.tick();
    this.drive();
  }

  deliver(m: Message): void {
    if (this.node === null) return;
    if (this.paused) {
      this.inbox.push(m);
      return;
    }
    this.node.step(m);
    this.drive();
  }

  /** Carries out Ready batches until the node has nothing more or a write is in flight. */
  drive(): void {
    while (this.node !== null && !this.paused && !this.disk.isWriting() && this.node.hasReady()) {
      const ready = this.node.ready();
      this.env.send(ready.messages);
      this.disk.write(ready);
      const latency = this.env.persistLatency();
      if (latency === 0) {
        this.completeWrite(ready);
        continue;
      }
      const incarnation = this.incarnation;
      this.env.schedule(latency, () => {
        if (incarnation !== this.incarnation) return;
        if (this.paused) this.syncedWhilePaused = ready;
        else {
          this.completeWrite(ready);
          this.drive();
        }
      });
      return;
    }
  }

  private completeWrite(ready: Ready): void {
    this.disk.sync();
    this.env.observer.persisted(this, ready);
    this.env.send(ready.messagesAfterPersist);
    if (ready.snapshot !== null) {
      const index = ready.snapshot.meta.index;
      if (index <= this.appliedIndex) throw new Error(`${this.id}: snapshot at ${index} would take the applied index back from ${this.appliedIndex}`);
      this.stateMachine.restore(ready.snapshot.data);
      this.appliedIndex = index;
      this.env.observer.restored(this, index);
    }
    for (const entry of ready.committedEntries) {
      if (entry.index !== this.appliedIndex + 1) throw new Error(`${this.id}: applying ${entry.index} after ${this.appliedIndex}`);
      const result = this.stateMachine.apply(entry);
      this.appliedIndex = entry.index;
      this.env.observer.applied(this, entry, result);
    }
    if (ready.readStates.length > 0) this.env.observer.readStates(this, ready.readStates);
    this.node!.advance(ready);
    this.maybeCompact();
  }

  private maybeCompact(): void {
    const node = this.node!;
    if (this.appliedIndex - (node.status().firstIndex - 1) < this.compactEvery) return;
    const data = this.stateMachine.snapshot();
    const meta = node.compact(this.appliedIndex, data);
    this.disk.saveSnapshot(meta, data);
  }
}
