/**
 * The leader lease (RaftNode.leaseRound): which heartbeat round a quorum answered, when a leader holds
 * none (a follower, a transfer under way or aborted in the term), and the restarted follower that grants
 * no vote for an election timeout, so a lease it helped confirm before going down still holds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../sim/lab.js';

const THREE = ['n1', 'n2', 'n3'];
const ELECTION_TICKS = 10;

function cluster(): Lab {
  const lab = new Lab(THREE, { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
  lab.elect('n1');
  return lab;
}

test('a leader holds the lease of the newest heartbeat round a quorum answered in its term; a follower holds none', () => {
  const lab = cluster();
  const leader = lab.node('n1');
  assert.is(leader.leaseRound(), 0, 'no round answered yet in this term');
  lab.heartbeatRounds(1);
  const answered = leader.heartbeatRoundsSent();
  assert.ok(answered > 0);
  assert.is(leader.leaseRound(), answered);
  assert.is(lab.node('n2').leaseRound(), 0, 'a follower holds no lease');

  // Nobody hears the next round: the lease stays with the last answered one.
  lab.isolate('n1');
  lab.heartbeatRounds(1);
  assert.is(leader.heartbeatRoundsSent(), answered + 1);
  assert.is(leader.leaseRound(), answered);

  // One follower of two is a quorum with the leader.
  lab.heal();
  lab.cutOneWay('n1', 'n3');
  lab.heartbeatRounds(1);
  assert.is(leader.leaseRound(), answered + 2);
});

test('answers to heartbeats of an earlier term confirm nothing in the next', () => {
  const lab = cluster();
  lab.heartbeatRounds(2);
  // n2 takes over, then n1 is elected again: its new term starts without a lease.
  lab.act('n1', (node) => node.transferLeadership('n2'));
  lab.deliverAll();
  assert.equal(lab.leaders(), ['n2']);
  lab.act('n2', (node) => node.transferLeadership('n1'));
  lab.deliverAll();
  assert.equal(lab.leaders(), ['n1']);
  assert.is(lab.node('n1').leaseRound(), 0);
  lab.heartbeatRounds(1);
  assert.is(lab.node('n1').leaseRound(), lab.node('n1').heartbeatRoundsSent());
});

test('no lease while a transfer is pending, nor for the rest of a term whose leader sent timeoutNow', () => {
  const lab = cluster();
  lab.heartbeatRounds(1);
  const leader = lab.node('n1');
  assert.ok(leader.leaseRound() > 0);
  // The timeoutNow is lost: the transfer is aborted after an election timeout, and n1 still leads.
  lab.cutOneWay('n1', 'n2');
  lab.act('n1', (node) => node.transferLeadership('n2'));
  assert.is(leader.leaseRound(), 0, 'timeoutNow went out: n2 may campaign past every follower\'s stickiness');
  lab.deliverAll();
  lab.heal();
  for (let i = 0; i < ELECTION_TICKS; i++) lab.heartbeatRounds(1);
  assert.equal(lab.leaders(), ['n1']);
  assert.is(leader.status().transferee, null, 'the transfer was aborted');
  assert.is(leader.leaseRound(), 0, 'the timeoutNow may still arrive: no lease in this term');
});

test('a restarted follower grants no vote for an election timeout; a node that never ran does at once', () => {
  const lab = cluster();
  lab.heartbeatRounds(1);
  // n2 answered n1's heartbeat, then restarted; n1 goes silent, and n3 campaigns.
  lab.crash('n2');
  lab.restart('n2');
  lab.isolate('n1');
  const term = lab.node('n3').status().term;
  assert.not.ok(lab.campaign('n3'), 'n3 was elected with the vote of a follower that restarted a moment ago');
  assert.not.ok(
    lab.sent.some((m) => m.from === 'n2' && m.to === 'n3' && (m.type === 'preVoteResponse' || m.type === 'voteResponse') && !m.reject),
    'n2 granted nothing',
  );
  lab.tick('n2', ELECTION_TICKS);
  lab.elect('n3');
  assert.ok(lab.node('n3').status().term > term);

  // A fresh cluster elects its first leader as before: nobody had a lease to respect.
  const fresh = new Lab(THREE, { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
  assert.ok(fresh.campaign('n1'), 'the first campaign of a new cluster wins');
});

test.run();
