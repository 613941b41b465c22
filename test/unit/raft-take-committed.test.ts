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

test('a leader hands out a commit learned while its next write is in flight: once, in order, only what it holds durably', () => {
  const trio = new Trio();
  trio.elect('n1');
  const leader = trio.node('n1');
  const a = leader.propose('a');
  assert.ok(a.ok);
  // 'a' is durable on the leader; the followers have not answered yet.
  trio.release((trio.hold('n1'), 'n1'));
  const b = leader.propose('b');
  assert.ok(b.ok);
  const writing = trio.hold('n1');
  assert.equal(writing.entries.map((e) => e.data), ['b']);
  trio.settle();
  assert.is(leader.status().commit, b.ok && b.index, "the followers' answers commit 'a' and 'b'");

  const taken = leader.takeCommittedEntries();
  assert.equal(taken.map((e) => e.data), ['a'], "'b' is not durable on the leader yet");
  assert.equal(leader.takeCommittedEntries(), [], 'handed out once');

  trio.release('n1');
  trio.settle();
  const later = trio.applied.get('n1')!.filter((e) => e.index >= (a.ok ? a.index : 0));
  assert.equal(later.map((e) => e.data), ['b'], 'the next Ready starts after what was taken');
  assert.is(leader.status().applied, b.ok && b.index);
});

test('nothing is handed out that is committed but not yet durable here', () => {
  const trio = new Trio();
  trio.elect('n1');
  const follower = trio.node('n2');
  trio.node('n1').propose('a');
  // n2 receives 'a' and holds its write; n3 acknowledges, so 'a' commits.
  trio.settle();
  trio.node('n1').propose('b');
  trio.node('n1').propose('c');
  trio.busy.add('n2');
  trio.settle();
  trio.busy.delete('n2');
  const writing = trio.hold('n2');
  assert.equal(writing.entries.map((e) => e.data), ['b', 'c']);
  trio.node('n1').tick(); // a heartbeat carries the commit index to n2
  trio.settle();
  assert.ok(follower.status().commit >= writing.entries[0]!.index, 'n2 knows b is committed');
  const before = follower.takeCommittedEntries();
  assert.ok(before.every((e) => e.index < writing.entries[0]!.index), 'b and c are not durable on n2 yet');
  trio.release('n2');
  trio.settle();
  const all = trio.applied.get('n2')!.concat(before, follower.takeCommittedEntries()).filter((e) => e.type === 'normal');
  assert.equal(all.map((e) => e.data), ['a', 'b', 'c'], 'each entry applied once, in order');
});

test.run();
