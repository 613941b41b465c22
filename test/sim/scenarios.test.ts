/**
 * The classic Raft traps, each set up exactly (lockstep delivery, chosen ticks) and each asserting the
 * specific behaviour that avoids it. Safety invariants run on every step as in the simulation.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RaftNode } from '../../coordinator/raft/node.js';
import type { Message, SnapshotChunkMessage } from '../../coordinator/raft/types.js';
import { seededRandom } from '../support/prng.js';
import { Lab, type Interference } from './lab.js';

const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5'];
const THREE = ['n1', 'n2', 'n3'];

/** Removes entries of `term` from appends in flight: the leader's probes arrive, its new entries do not. */
const withoutEntriesOfTerm =
  (term: number): Interference =>
  (m) =>
    m.type === 'append' ? { ...m, entries: m.entries.filter((e) => e.term !== term) } : m;

/**
 * Figure 8 of the dissertation, shifted by the bootstrap entry (index 1, term 1), up to (c): n1 (term
 * 4) has replicated its term-2 entry at index 3 to a majority (n1, n2, n3), but not yet its term-4
 * no-op. n5 holds a term-3 entry at index 3 and is down.
 */
function figure8AtC(): Lab {
  const lab = new Lab(FIVE, { maxEntriesPerMsg: 1 });
  lab.elect('n1');
  // (a) term 2: entry 3 reaches n2 only, then n1 crashes.
  for (const id of ['n3', 'n4', 'n5']) lab.cutOneWay('n1', id);
  lab.act('n1', (n) => n.propose('a'));
  lab.deliverAll();
  lab.crash('n1');
  lab.heal();
  // (b) term 3: n5 wins with n3 and n4, appends its no-op at index 3, and crashes before sending it.
  assert.ok(lab.campaign('n5', (m) => (m.from === 'n5' && m.type === 'append' ? null : m)));
  assert.is(lab.node('n5').logTerm(3), 3);
  lab.crash('n5');
  // (c) term 4: n1 restarts and wins; its old entry 3 reaches n3, its no-op (index 4) reaches no one.
  lab.restart('n1');
  lab.cutOneWay('n1', 'n4');
  lab.elect('n1', withoutEntriesOfTerm(4));
  lab.heartbeatRounds(3, withoutEntriesOfTerm(4));
  return lab;
}

test('figure 8: an old-term entry on a majority is not committed by counting replicas', () => {
  const lab = figure8AtC();
  assert.is(lab.node('n1').status().term, 4);
  for (const id of ['n1', 'n2', 'n3']) assert.is(lab.node(id).logTerm(3), 2, `${id} holds 3/2`);
  assert.is(lab.node('n1').status().commit, 2, 'entry 3 is on a majority but not committed');
  // (d) And rightly so: n5 can still win and overwrite it.
  lab.crash('n1');
  lab.restart('n5');
  lab.heal();
  lab.elect('n5');
  lab.heartbeatRounds(2);
  for (const id of ['n2', 'n3']) assert.is(lab.node(id).logTerm(3), 3, `${id} now holds n5's 3/3`);
  assert.equal(lab.applied('n2'), [], "the overwritten 'a' was never applied");
});

test('figure 8 (e): once an entry of the current term is on a majority, both commit', () => {
  const lab = figure8AtC();
  lab.heartbeatRounds(2);
  assert.is(lab.node('n1').status().commit, 4);
  assert.equal(lab.applied('n1'), ['a']);
  assert.equal(lab.applied('n3'), ['a']);
});

test('a candidate with a stale log cannot win', () => {
  const lab = new Lab(THREE);
  lab.elect('n1');
  lab.isolate('n3');
  lab.act('n1', (n) => n.propose('a'));
  lab.deliverAll();
  assert.is(lab.node('n1').status().commit, 3);
  lab.heal();
  assert.not.ok(lab.campaign('n3'));
  const answers = lab.sent.filter((m) => m.to === 'n3' && m.type === 'voteResponse' && m.term === lab.node('n3').status().term);
  assert.is(answers.length, 2);
  assert.ok(answers.every((m) => m.type === 'voteResponse' && m.reject));
  assert.equal(lab.leaders(), []);
  lab.elect('n2');
  assert.equal(lab.leaders(), ['n2']);
});

/** n3 is cut off while n1 leads and keeps writing, then rejoins; returns n1's term before the rejoin. */
function partitionAndRejoin(lab: Lab, writesWhileApart: number): number {
  lab.elect('n1');
  lab.isolate('n3');
  for (let i = 0; i < writesWhileApart; i++) lab.act('n1', (n) => n.propose(`w${i}`));
  lab.tick('n3', 60);
  lab.deliverAll();
  lab.heartbeatRounds(2);
  lab.heal();
  return lab.node('n1').status().term;
}

test('without pre-vote, a rejoining replica with a higher term forces the leader to step down', () => {
  const lab = new Lab(THREE, { preVote: false });
  const term = partitionAndRejoin(lab, 1);
  assert.ok(lab.node('n3').status().term > term + 1, 'n3 ran elections alone');
  lab.campaign('n3');
  assert.is.not(lab.node('n1').status().role, 'leader');
  assert.ok(lab.node('n1').status().term > term);
});

test('with pre-vote, the rejoining replica does not disrupt the leader', () => {
  const lab = new Lab(THREE, { preVote: true });
  const term = partitionAndRejoin(lab, 1);
  assert.is(lab.node('n3').status().term, term, 'failed pre-votes leave the term alone');
  lab.campaign('n3');
  assert.equal(lab.leaders(), ['n1']);
  assert.is(lab.node('n1').status().term, term);
  lab.heartbeatRounds(2);
  assert.is(lab.node('n3').status().lead, 'n1');
  assert.equal(lab.applied('n3'), ['w0']);
});

test('with pre-vote and check-quorum, followers of a live leader ignore even an up-to-date campaigner', () => {
  const lab = new Lab(THREE, { preVote: true, checkQuorum: true });
  const term = partitionAndRejoin(lab, 0);
  lab.campaign('n3');
  assert.equal(lab.leaders(), ['n1']);
  assert.is(lab.node('n1').status().term, term);
});

test('check-quorum: a leader that heard from no quorum for a whole election timeout steps down', () => {
  for (const checkQuorum of [true, false]) {
    const lab = new Lab(THREE, { checkQuorum });
    lab.elect('n1');
    lab.isolate('n1');
    // The first check, 10 ticks after the election, still counts the answers to the no-op.
    lab.heartbeatRounds(20);
    assert.is(lab.node('n1').status().role, checkQuorum ? 'follower' : 'leader', `checkQuorum=${checkQuorum}`);
  }
});

test('ReadIndex before the leader committed in its term waits for the no-op, then answers', () => {
  const lab = new Lab(THREE);
  lab.elect('n1');
  lab.act('n1', (n) => n.propose('a'));
  lab.deliverAll();
  lab.heartbeatRounds(1); // tells the followers that 'a' committed
  // n2 wins term 2, but no acknowledgement of its no-op gets back to it.
  const noAcks: Interference = (m) => (m.to === 'n2' && m.type === 'appendResponse' ? null : m);
  lab.elect('n2', noAcks);
  assert.is(lab.node('n2').status().commit, 3, 'commit index still from the previous term');
  assert.ok(lab.act('n2', (n) => n.readIndex('r1')).ok);
  lab.heartbeatRounds(3, noAcks);
  assert.is(lab.readStates.get('n2'), undefined, 'no read index before the no-op commits');
  lab.heartbeatRounds(2);
  const noop = lab.node('n2').status().lastIndex;
  assert.is(lab.node('n2').status().commit, noop);
  assert.equal(lab.readStates.get('n2'), [{ ctx: 'r1', index: noop }]);
});

test('ReadIndex needs a quorum to confirm leadership; a single voter answers at once', () => {
  const lab = new Lab(THREE);
  lab.elect('n1');
  lab.isolate('n1');
  lab.act('n1', (n) => n.readIndex('lonely'));
  lab.heartbeatRounds(3);
  assert.is(lab.readStates.get('n1'), undefined);

  const solo = new Lab(['s1']);
  solo.elect('s1');
  solo.act('s1', (n) => n.readIndex('now'));
  assert.equal(solo.readStates.get('s1'), [{ ctx: 'now', index: 2 }]);
});

test('a follower whose entries were compacted catches up through a chunked snapshot, restarting after a crash', () => {
  const lab = new Lab(THREE, { compactEvery: 4, snapshotChunkSize: 8 });
  lab.elect('n1');
  lab.isolate('n3');
  for (let i = 0; i < 12; i++) lab.act('n1', (n) => n.propose(`cmd-${i}`));
  lab.deliverAll();
  assert.ok(lab.node('n1').status().firstIndex > 2, 'the leader compacted');
  lab.heal();
  // Crash n3 after it received three chunks; the transfer must start over when it is back.
  let chunks = 0;
  lab.tick('n1');
  lab.deliverAll((m) => {
    if (m.to === 'n3' && m.type === 'snapshotChunk' && ++chunks === 4) {
      lab.crash('n3');
      return null;
    }
    return m;
  });
  assert.is(lab.disk('n3').snapshotIndex(), 0, 'nothing installed before the crash');
  lab.restart('n3');
  lab.heartbeatRounds(3);
  const sentChunks = lab.sent.filter((m): m is SnapshotChunkMessage => m.type === 'snapshotChunk' && m.to === 'n3');
  assert.ok(sentChunks.length > 6, `several chunks (${sentChunks.length})`);
  assert.is(sentChunks.filter((m) => m.offset === 0).length, 2, 'the transfer started over once');
  assert.ok(lab.disk('n3').snapshotIndex() > 0, 'n3 installed a snapshot');
  assert.equal(lab.applied('n3'), lab.applied('n1'));
  assert.is(lab.applied('n3').length, 12);
});

test('a follower lagging past the entries the leader keeps in memory catches up from the leader\'s disk, without a snapshot', () => {
  const lab = new Lab(THREE, { memoryTailChars: 0 });
  const reads: Array<[number, number]> = [];
  const disk = lab.disk('n1');
  const readEntries = disk.readEntries.bind(disk);
  disk.readEntries = (from, through) => (reads.push([from, through]), readEntries(from, through));
  lab.elect('n1');
  lab.isolate('n3');
  for (let i = 0; i < 12; i++) lab.act('n1', (n) => n.propose(`cmd-${i}`));
  lab.deliverAll();
  assert.equal(reads, [], 'nothing is read back while every follower keeps up');
  lab.heal();
  lab.heartbeatRounds(3);
  assert.ok(reads.length > 0, 'the lagging follower\'s entries came from the leader\'s disk');
  assert.is(lab.sent.filter((m) => m.type === 'snapshotChunk').length, 0, 'no snapshot was needed');
  assert.is(lab.node('n1').status().firstIndex, 1, 'the leader compacted nothing');
  assert.equal(lab.applied('n3'), lab.applied('n1'));
  assert.is(lab.applied('n3').length, 12);
});

test('leadership transfer hands over without waiting for an election timeout, refusing proposals meanwhile', () => {
  const lab = new Lab(THREE, { checkQuorum: true, preVote: true });
  lab.elect('n1');
  lab.cutOneWay('n1', 'n2');
  lab.act('n1', (n) => n.propose('x'));
  lab.deliverAll();
  lab.heal();
  assert.ok(lab.act('n1', (n) => n.transferLeadership('n2')).ok);
  const refused = lab.act('n1', (n) => n.propose('y'));
  assert.is(refused.ok ? null : refused.refusal.code, 'TRANSFER_IN_PROGRESS');
  lab.deliverAll(); // no ticks: the target catches up, gets TimeoutNow and wins at once
  assert.equal(lab.leaders(), ['n2']);
  assert.ok(lab.sent.some((m) => m.type === 'timeoutNow' && m.to === 'n2'));
  lab.act('n2', (n) => n.propose('y'));
  lab.deliverAll();
  lab.heartbeatRounds(1);
  assert.equal(lab.applied('n1'), ['x', 'y']);
});

test('a leadership transfer to an unreachable node is abandoned after an election timeout', () => {
  const lab = new Lab(THREE, { checkQuorum: true });
  lab.elect('n1');
  lab.isolate('n3');
  lab.act('n1', (n) => n.transferLeadership('n3'));
  assert.is(lab.node('n1').status().transferee, 'n3');
  lab.heartbeatRounds(10);
  assert.equal(lab.leaders(), ['n1']);
  assert.is(lab.node('n1').status().transferee, null);
  assert.ok(lab.act('n1', (n) => n.propose('after')).ok);
});

test('term and vote survive a restart: no second vote in the same term', () => {
  const lab = new Lab(THREE);
  lab.isolate('n3');
  lab.elect('n1');
  assert.is(lab.node('n2').status().vote, 'n1');
  lab.crash('n2');
  lab.restart('n2');
  assert.equal([lab.node('n2').status().term, lab.node('n2').status().vote], [2, 'n1']);
  // n3 heard nothing and campaigns in term 2 too; only n2 can hear it.
  lab.heal();
  lab.isolate('n1');
  assert.not.ok(lab.campaign('n3'));
  const answer = lab.sent.find((m) => m.from === 'n2' && m.to === 'n3' && m.type === 'voteResponse');
  assert.ok(answer?.type === 'voteResponse' && answer.reject && answer.term === 2);
});

test('a vote grant leaves only after the vote is durable', () => {
  const node = new RaftNode({
    id: 'n2', peers: THREE, electionTicks: 10, heartbeatTicks: 1, random: seededRandom(1), preVote: false, checkQuorum: false,
    maxInflightMsgs: 4, maxEntriesPerMsg: 8, snapshotChunkSize: 1024, storage: { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] },
  });
  node.step({ type: 'vote', from: 'n1', to: 'n2', term: 2, lastIndex: 1, lastTerm: 1, transfer: false });
  const ready = node.ready();
  assert.equal(ready.hardState, { term: 2, vote: 'n1', commit: 1 });
  assert.equal(ready.messages, []);
  assert.equal(ready.messagesAfterPersist.map((m: Message) => [m.type, 'reject' in m && m.reject]), [['voteResponse', false]]);
});

test('the leader counts its own entry toward a quorum only once its write is durable', () => {
  const lab = new Lab(THREE);
  lab.elect('n1');
  lab.heartbeatRounds(1);
  const leader = lab.node('n1');
  // Propose without letting the driver persist: the append may already be out (it is sent before the
  // leader's own write completes), and n2's acknowledgement may come back first.
  const proposed = leader.propose('x');
  assert.ok(proposed.ok);
  const index = proposed.ok ? proposed.index : 0;
  // n2 gets the append, writes it (the lab's disks are synchronous) and answers.
  for (const m of leader.takeMessages()) if (m.type === 'append' && m.to === 'n2') lab.replica('n2').deliver(m);
  const ack = [...lab.sent].reverse().find((m) => m.type === 'appendResponse' && m.from === 'n2' && m.to === 'n1' && !m.reject && m.index >= index);
  assert.ok(ack, 'n2 acknowledged the entry');
  leader.step(ack);
  assert.is(leader.status().commit, index - 1, 'n2 alone holds the entry durably: 1 of 3');
  lab.replica('n1').drive(); // the leader's own write completes
  assert.is(leader.status().commit, index);
});

test('a proposal retried after a leader change: lost original applies once, committed original twice, all replicas agree', () => {
  const lab = new Lab(THREE);
  lab.elect('n1');
  lab.isolate('n1');
  lab.act('n1', (n) => n.propose('x')); // never leaves n1
  lab.deliverAll();
  lab.elect('n2');
  lab.act('n2', (n) => n.propose('x')); // the client's retry
  lab.deliverAll();
  lab.heal();
  lab.heartbeatRounds(2);
  for (const id of THREE) assert.equal(lab.applied(id), ['x'], id);

  // The original committed but its answer was lost: the retry applies again (no sessions at this layer).
  lab.act('n2', (n) => n.propose('y'));
  lab.deliverAll();
  lab.act('n2', (n) => n.transferLeadership('n3'));
  lab.deliverAll();
  lab.act('n3', (n) => n.propose('y'));
  lab.deliverAll();
  lab.heartbeatRounds(2);
  for (const id of THREE) assert.equal(lab.applied(id), ['x', 'y', 'y'], id);
});

test('membership: add a learner, catch it up, promote it, remove a dead voter; one change at a time', () => {
  const lab = new Lab(THREE, { compactEvery: 4 });
  lab.elect('n1');
  for (let i = 0; i < 6; i++) lab.act('n1', (n) => n.propose(`before-${i}`));
  lab.deliverAll();
  lab.addReplica('n4', []);
  assert.ok(lab.act('n1', (n) => n.proposeConfChange({ type: 'addLearner', nodeId: 'n4' })).ok);
  const second = lab.act('n1', (n) => n.proposeConfChange({ type: 'promoteLearner', nodeId: 'n4' }));
  assert.is(second.ok ? null : second.refusal.code, 'CONF_CHANGE_PENDING');
  lab.deliverAll();
  lab.heartbeatRounds(3);
  assert.equal(lab.applied('n4'), lab.applied('n1'), 'the learner caught up');
  assert.equal(lab.node('n4').confState(), { voters: THREE, learners: ['n4'] });

  // A learner never campaigns and does not count toward a quorum.
  lab.tick('n4', 40);
  assert.not.ok(lab.sent.some((m) => m.from === 'n4' && (m.type === 'vote' || m.type === 'preVote')));
  lab.isolate('n2');
  lab.isolate('n3');
  lab.act('n1', (n) => n.propose('needs-a-voter'));
  lab.deliverAll();
  assert.not.ok(lab.applied('n1').includes('needs-a-voter'), 'n1 + learner n4 is not a quorum');
  lab.heal();
  lab.heartbeatRounds(2);

  assert.ok(lab.act('n1', (n) => n.proposeConfChange({ type: 'promoteLearner', nodeId: 'n4' })).ok);
  lab.deliverAll();
  lab.heartbeatRounds(1);
  assert.equal(lab.node('n2').confState(), { voters: ['n1', 'n2', 'n3', 'n4'], learners: [] });

  const removeSelf = lab.act('n1', (n) => n.proposeConfChange({ type: 'removeNode', nodeId: 'n1' }));
  assert.is(removeSelf.ok ? null : removeSelf.refusal.code, 'INVALID_CONF_CHANGE');
  lab.crash('n3');
  assert.ok(lab.act('n1', (n) => n.proposeConfChange({ type: 'removeNode', nodeId: 'n3' })).ok);
  lab.deliverAll();
  lab.heartbeatRounds(1);
  assert.equal(lab.node('n4').confState(), { voters: ['n1', 'n2', 'n4'], learners: [] });

  // Two of the three remaining voters are a quorum: n1 and n4 commit without n2.
  lab.crash('n2');
  lab.act('n1', (n) => n.propose('z'));
  lab.deliverAll();
  lab.heartbeatRounds(1);
  assert.is(lab.applied('n4').at(-1), 'z');
});

test.run();
