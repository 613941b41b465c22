/**
 * A leader that stalls (starved of CPU, in a long garbage collection) keeps its followers while the
 * transport reports its connection up, for stalledLeaderTicks; a dead one (connection closed) is
 * replaced after electionTicks as before. Heartbeat ticks taken in a long turn of the driver's event
 * loop send heartbeats but move no election or check-quorum clock.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../sim/lab.js';

const THREE = ['n1', 'n2', 'n3'];
const ELECTION_TICKS = 10;
const STALLED_LEADER_TICKS = 30;

/** n1 leads; both followers report its connection up or down. */
function cluster(leaderConnected: boolean): Lab {
  const lab = new Lab(THREE, { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS, stalledLeaderTicks: STALLED_LEADER_TICKS });
  lab.elect('n1');
  lab.heartbeatRounds(1);
  for (const id of ['n2', 'n3']) lab.node(id).peerConnection('n1', leaderConnected);
  return lab;
}

const campaigned = (lab: Lab, id: string) => lab.sent.some((m) => m.from === id && (m.type === 'preVote' || m.type === 'vote'));

test('followers wait stalledLeaderTicks for a silent leader whose connection is up, then follow it again', () => {
  const lab = cluster(true);
  const term = lab.node('n1').status().term;
  // n1 stalls: it neither ticks nor sends. Without the option the followers campaign within 2·electionTicks.
  for (let i = 0; i < STALLED_LEADER_TICKS - 1; i++) {
    lab.tick('n2');
    lab.tick('n3');
    lab.deliverAll();
  }
  assert.not.ok(campaigned(lab, 'n2') || campaigned(lab, 'n3'), 'no follower campaigned');
  lab.heartbeatRounds(2);
  assert.equal(lab.leaders(), ['n1']);
  for (const id of THREE) assert.is(lab.node(id).status().term, term, `${id} is still in term ${term}`);
  assert.is(lab.node('n2').status().lead, 'n1');
});

test('a follower campaigns once the stall outlasts stalledLeaderTicks', () => {
  const lab = cluster(true);
  for (let i = 0; i < STALLED_LEADER_TICKS + 2 * ELECTION_TICKS && lab.leaders().every((id) => id === 'n1'); i++) {
    lab.tick('n2');
    lab.tick('n3');
    lab.deliverAll();
  }
  assert.ok(lab.leaders().some((id) => id !== 'n1'), 'n2 or n3 leads');
});

test('a leader whose connection closed is replaced within 2·electionTicks, as without the option', () => {
  const lab = cluster(false);
  lab.crash('n1');
  let ticks = 0;
  while (!campaigned(lab, 'n2') && !campaigned(lab, 'n3')) {
    lab.tick('n2');
    lab.tick('n3');
    ticks++;
  }
  assert.ok(ticks < 2 * ELECTION_TICKS, `a follower campaigned after ${ticks} ticks`);
  lab.deliverAll();
  assert.is(lab.leaders().length, 1);
  assert.ok(['n2', 'n3'].includes(lab.leaders()[0]!));
});

test('a follower still connected to the stalled leader refuses the pre-vote of one whose connection to it broke', () => {
  const lab = cluster(true);
  const term = lab.node('n1').status().term;
  // n2's stream from n1 was reset: it counts n1 dead after electionTicks and asks n3, which still waits.
  lab.node('n2').peerConnection('n1', false);
  for (let i = 0; i < STALLED_LEADER_TICKS - 1; i++) {
    lab.tick('n2');
    lab.tick('n3');
    lab.deliverAll();
  }
  assert.ok(campaigned(lab, 'n2'), 'n2 asked for pre-votes');
  assert.not.ok(lab.sent.some((m) => m.from === 'n3' && m.to === 'n2' && m.type === 'preVoteResponse' && !m.reject), 'n3 granted no pre-vote');
  lab.heartbeatRounds(2);
  assert.equal(lab.leaders(), ['n1']);
  for (const id of THREE) assert.is(lab.node(id).status().term, term);
});

test('heartbeat ticks send heartbeats but do not make a leader whose answers are unread step down', () => {
  const lab = cluster(true);
  const heartbeats = () => lab.sent.filter((m) => m.from === 'n1' && m.type === 'heartbeat').length;
  const before = heartbeats();
  // A long turn: the followers' answers would be queued behind it, unread. Drop them here.
  for (let i = 0; i < 5 * ELECTION_TICKS; i++) {
    lab.act('n1', (n) => n.tickHeartbeat());
    lab.deliverAll((m) => (m.to === 'n1' ? null : m));
  }
  assert.is(heartbeats() - before, 2 * 5 * ELECTION_TICKS, 'one heartbeat to each follower per heartbeat tick');
  assert.equal(lab.leaders(), ['n1']);
  // Timer ticks without answers still make it step down (check-quorum).
  lab.heartbeatRounds(2 * ELECTION_TICKS, (m) => (m.to === 'n1' ? null : m));
  assert.is(lab.node('n1').status().role, 'follower');
});

test('heartbeat ticks do nothing on a follower', () => {
  const lab = cluster(false);
  const sent = lab.sent.length;
  for (let i = 0; i < 5 * ELECTION_TICKS; i++) lab.act('n2', (n) => n.tickHeartbeat());
  assert.is(lab.sent.length, sent);
  assert.is(lab.node('n2').status().role, 'follower');
});

test.run();
