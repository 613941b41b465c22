/**
 * Late timers and elections: a late tick counts once while a leader may have sent something unread; with
 * no leader to hear from, the election clock runs on elapsed time since the last tick or message. And two
 * pre-candidates asking each other at once do not both go on to split the vote.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ticksDue } from '../../coordinator/replication/raft/election-clock.js';
import { Lab } from '../sim/lab.js';

const TICK_MS = 100;
const ELECTION_TICKS = 10;
const due = (msSinceTick: number, msSinceMessage: number, leaderUnreachable: boolean) => ticksDue({ msSinceTick, msSinceMessage, tickMs: TICK_MS, electionTicks: ELECTION_TICKS, leaderUnreachable });

test('a late timer counts once while the leader is reachable, however late', () => {
  assert.is(due(350, 5_000, false), 1);
  assert.is(due(5_000, 5_000, false), 1);
});

test('with no leader to hear from, a late timer counts the time since the last tick or message, an election timeout at most', () => {
  assert.is(due(350, 5_000, true), 3, 'three ticks of time since the last tick');
  assert.is(due(350, 120, true), 1, 'a message read 120 ms ago: only that time counts');
  assert.is(due(90, 5_000, true), 1, 'an early timer still ticks once');
  assert.is(due(60_000, 60_000, true), ELECTION_TICKS, 'an election timeout at most');
});

test('two pre-candidates asking each other at once: the one with the smaller id (same log) wins in one round, no split vote', () => {
  const lab = new Lab(['n1', 'n2', 'n3'], { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
  lab.elect('n1');
  lab.heartbeatRounds(1);
  const term = lab.node('n1').status().term;
  lab.crash('n1');
  const asked = (id: string) => lab.sent.some((m) => m.from === id && m.type === 'preVote');
  // Both time out before either hears from the other (followers of a dead leader, starved alike).
  for (let i = 0; i < 4 * ELECTION_TICKS && !asked('n3'); i++) lab.tick('n3');
  for (let i = 0; i < 4 * ELECTION_TICKS && !asked('n2'); i++) lab.tick('n2');
  assert.is(lab.node('n2').status().role, 'preCandidate');
  assert.is(lab.node('n3').status().role, 'preCandidate');
  lab.deliverAll();
  assert.equal(lab.leaders(), ['n2']);
  assert.is(lab.node('n2').status().term, term + 1, 'elected in the first term after, no split');
  assert.is(lab.node('n3').status().lead, 'n2');
});

test('of two pre-candidates, the one with the more up-to-date log wins though its id is larger', () => {
  const lab = new Lab(['n1', 'n2', 'n3'], { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
  lab.elect('n1');
  lab.heartbeatRounds(1);
  // n2 misses the last entry.
  lab.act('n1', (node) => node.propose('only n3 has this'));
  lab.deliverAll((m) => (m.to === 'n2' && m.type === 'append' ? null : m));
  assert.ok(lab.node('n3').status().lastIndex > lab.node('n2').status().lastIndex);
  lab.crash('n1');
  const asked = (id: string) => lab.sent.some((m) => m.from === id && m.type === 'preVote');
  for (let i = 0; i < 4 * ELECTION_TICKS && !asked('n2'); i++) lab.tick('n2');
  for (let i = 0; i < 4 * ELECTION_TICKS && !asked('n3'); i++) lab.tick('n3');
  lab.deliverAll();
  assert.equal(lab.leaders(), ['n3']);
});

test("a follower whose leader's connection closed keeps a quarter of the randomised spread; otherwise the whole of it", () => {
  const ticksToCampaign = (prefix: string, closed: boolean) => {
    const [leader, follower] = [`${prefix}1`, `${prefix}2`];
    const lab = new Lab([leader, follower, `${prefix}3`], { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
    lab.elect(leader);
    lab.heartbeatRounds(1);
    if (closed) {
      lab.node(follower).peerConnection(leader, true);
      lab.node(follower).peerConnection(leader, false);
    }
    lab.crash(leader);
    let ticks = 0;
    while (!lab.sent.some((m) => m.from === follower && m.type === 'preVote')) {
      lab.tick(follower);
      ticks++;
    }
    return ticks;
  };
  const prefixes = Array.from({ length: 24 }, (_, i) => `p${i}-`);
  const closed = prefixes.map((p) => ticksToCampaign(p, true));
  const silent = prefixes.map((p) => ticksToCampaign(p, false));
  for (const ticks of closed) assert.ok(ticks >= ELECTION_TICKS && ticks <= ELECTION_TICKS + ELECTION_TICKS / 4, `connection closed: ${closed.join(' ')}`);
  for (const ticks of silent) assert.ok(ticks >= ELECTION_TICKS && ticks < 2 * ELECTION_TICKS, `silent: ${silent.join(' ')}`);
  assert.ok(Math.max(...silent) > ELECTION_TICKS + ELECTION_TICKS / 4, `the whole spread otherwise: ${silent.join(' ')}`);
});

test('a pre-candidate asks again each round: a voter that ignored its first request while it still counted the dead leader alive answers the next', () => {
  const lab = new Lab(['n1', 'n2', 'n3'], { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
  lab.elect('n1');
  lab.heartbeatRounds(1);
  lab.crash('n1');
  const preVotes = () => lab.sent.filter((m) => m.from === 'n2' && m.to === 'n3' && m.type === 'preVote').length;
  for (let i = 0; i < 4 * ELECTION_TICKS && preVotes() === 0; i++) lab.tick('n2');
  lab.deliverAll();
  assert.is(lab.node('n2').status().role, 'preCandidate', 'n3 heard n1 within an election timeout: it ignored the request');
  // n3's stickiness runs out (an election timeout of ticks) before its own campaign would start.
  lab.tick('n3', ELECTION_TICKS);
  assert.is(lab.node('n3').status().role, 'follower', 'n3 has not campaigned itself');
  lab.tick('n2', 2);
  assert.is(preVotes(), 2, 'asked again a round later');
  lab.deliverAll();
  assert.equal(lab.leaders(), ['n2'], 'elected without waiting for another election timeout');
});

test.run();
