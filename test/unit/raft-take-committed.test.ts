/**
 * RaftNode.takeCommittedEntries: a driver learns of a commit while its own disk write is in flight and
 * applies at once. Entries must come out once, in order, only when committed and durable here, and
 * never again in a later Ready.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RaftNode } from '../../coordinator/raft/node.js';
import type { Entry, Message, Ready } from '../../coordinator/raft/types.js';
import { seededRandom } from '../support/prng.js';

const IDS = ['n1', 'n2', 'n3'];

/** Three nodes with lockstep delivery and synchronous disks; a node's Ready can be held (a write in flight). */
class Trio {
  readonly nodes = new Map(
    IDS.map((id, k) => [
      id,
      new RaftNode({
        id,
        peers: IDS,
        electionTicks: 10,
        heartbeatTicks: 1,
        random: seededRandom(k + 1),
        preVote: false,
        checkQuorum: false,
        maxInflightMsgs: 8,
        maxEntriesPerMsg: 8,
        snapshotChunkSize: 1024,
        storage: { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
      }),
    ]),
  );
  readonly applied = new Map<string, Entry[]>(IDS.map((id) => [id, []]));
  readonly held = new Map<string, Ready>();
  /** Nodes that take messages but run no Ready (their driver is busy elsewhere). */
  readonly busy = new Set<string>();
  private readonly queue: Message[] = [];

  node(id: string): RaftNode {
    return this.nodes.get(id)!;
  }

  /** Runs every node's Ready cycle (sending, persisting at once, applying) until nothing moves. */
  settle(): void {
    for (let rounds = 0; rounds < 1000; rounds++) {
      let moved = false;
      for (const [id, node] of this.nodes) {
        this.queue.push(...node.takeMessages());
        if (this.held.has(id) || this.busy.has(id) || !node.hasReady()) continue;
        const ready = node.ready();
        this.complete(id, ready);
        moved = true;
      }
      while (this.queue.length > 0) {
        const m = this.queue.shift()!;
        this.node(m.to).step(m);
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error('the trio did not settle');
  }

  /** Takes `id`'s next Ready and keeps it unpersisted; its replication traffic leaves at once. */
  hold(id: string): Ready {
    const ready = this.node(id).ready();
    this.queue.push(...ready.messages);
    this.applied.get(id)!.push(...ready.committedEntries);
    this.held.set(id, ready);
    return ready;
  }

  release(id: string): void {
    const ready = this.held.get(id)!;
    this.held.delete(id);
    this.queue.push(...ready.messagesAfterPersist);
    this.node(id).advance(ready);
  }

  private complete(id: string, ready: Ready): void {
    this.queue.push(...ready.messages, ...ready.messagesAfterPersist);
    this.applied.get(id)!.push(...ready.committedEntries);
    this.node(id).advance(ready);
  }

  elect(id: string): void {
    for (let i = 0; i < 20 && this.node(id).status().role !== 'leader'; i++) {
      this.node(id).tick();
      this.settle();
    }
    assert.is(this.node(id).status().role, 'leader');
    this.settle();
  }
}

test('a leader hands out a commit learned while its own write is in flight, once and in order', () => {
  const trio = new Trio();
  trio.elect('n1');
  const leader = trio.node('n1');
  const a = leader.propose('a');
  const b = leader.propose('b');
  assert.ok(a.ok && b.ok);
  // The leader's write of 'a' and 'b' is slow; its appends left at once and both followers answer.
  const writing = trio.hold('n1');
  assert.equal(writing.entries.map((e) => e.data), ['a', 'b']);
  trio.settle();
  assert.is(leader.status().commit, b.index, 'the followers alone are a quorum');

  const taken = leader.takeCommittedEntries();
  assert.equal(taken.map((e) => e.data), ['a', 'b'], 'applied before the leader\'s own write completes');
  assert.equal(leader.takeCommittedEntries(), [], 'handed out once');
  assert.is(leader.status().applied, b.index);

  trio.release('n1');
  const c = leader.propose('c');
  assert.ok(c.ok);
  trio.settle();
  const afterTaken = trio.applied.get('n1')!.filter((e) => e.index > b.index);
  assert.equal(afterTaken.map((e) => e.data), ['c'], 'the next Ready starts after what was taken');
});

test('an entry is handed out only once a quorum holds it', () => {
  const trio = new Trio();
  trio.elect('n1');
  const leader = trio.node('n1');
  // Neither follower persists: the leader's entry is durable on the leader alone.
  trio.busy.add('n2');
  trio.busy.add('n3');
  const a = leader.propose('a');
  assert.ok(a.ok);
  trio.settle();
  assert.ok(leader.status().commit < a.index);
  assert.equal(leader.takeCommittedEntries(), [], 'not committed: nothing to apply');
  const follower = trio.node('n2');
  assert.equal(follower.takeCommittedEntries().filter((e) => e.type === 'normal'), []);

  // n2's write completes: now a quorum (n1, n2) holds 'a'. n3's write is still in flight.
  trio.busy.delete('n2');
  trio.settle();
  assert.is(leader.status().commit, a.index);
  assert.equal(trio.applied.get('n1')!.filter((e) => e.type === 'normal').map((e) => e.data), ['a']);
  const n3 = trio.node('n3');
  trio.busy.delete('n3');
  trio.hold('n3'); // n3's write is in flight
  trio.node('n1').tick(); // the heartbeat tells n3 the commit index
  trio.settle();
  assert.ok(n3.status().commit >= a.index);
  const n3Taken = n3.takeCommittedEntries();
  trio.release('n3');
  trio.settle();
  const n3Applied = [...trio.applied.get('n3')!, ...n3Taken, ...n3.takeCommittedEntries()].filter((e) => e.type === 'normal');
  assert.equal(n3Applied.map((e) => e.data), ['a'], 'committed is enough, even before n3\'s own write completes; and only once');
});

test.run();
