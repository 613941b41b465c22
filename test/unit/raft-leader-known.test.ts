/**
 * What a replica tells refused agents: how many ticks until a leader may be known. A follower counts down
 * its own election timer (plus an election's round); a replica in an election says half an election
 * timeout; a leader says nothing. Agents wait that long instead of asking the electing replicas round and round.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Lab } from '../sim/lab.js';

const THREE = ['n1', 'n2', 'n3'];
const ELECTION_TICKS = 10;
const ROUND_TICKS = 2;
const ELECTING_TICKS = ELECTION_TICKS / 2;

function cluster(): Lab {
  const lab = new Lab(THREE, { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
  lab.elect('n1');
  lab.heartbeatRounds(1);
  return lab;
}

const campaigned = (lab: Lab, id: string) => lab.sent.some((m) => m.from === id && (m.type === 'preVote' || m.type === 'vote'));

test("a follower's count is its election timer plus a round, down by one each tick, until it campaigns", () => {
  const lab = cluster();
  assert.is(lab.node('n1').ticksUntilLeaderKnown(), null, 'the leader knows the leader');
  lab.crash('n1');
  const first = lab.node('n2').ticksUntilLeaderKnown()!;
  assert.ok(first > ROUND_TICKS && first <= 2 * ELECTION_TICKS + ROUND_TICKS, `within an election timeout and a round: ${first}`);
  let ticks = 0;
  while (!campaigned(lab, 'n2')) {
    assert.is(lab.node('n2').ticksUntilLeaderKnown(), first - ticks, `after ${ticks} ticks`);
    lab.tick('n2');
    ticks++;
  }
  assert.is(ticks, first - ROUND_TICKS, 'n2 campaigned when its count reached one round');
  assert.is(lab.node('n2').ticksUntilLeaderKnown(), ELECTING_TICKS, 'campaigning: half an election timeout');
});

test('a follower that voted in a term with no leader yet says half an election timeout; once the new leader is heard from, its timer again', () => {
  const lab = cluster();
  lab.crash('n1');
  // n3 stops counting n1 alive; its votes (and any campaign of its own) never reach n2, so n2 asks, n3
  // votes, and n2 never learns it won.
  lab.tick('n3', ELECTION_TICKS);
  const lost = (m: { from: string; to: string; type: string }) => m.from === 'n3' && m.to === 'n2' && ['voteResponse', 'preVote', 'vote'].includes(m.type);
  lab.campaign('n2', (m) => (lost(m) ? null : m));
  lab.campaign('n2', (m) => (lost(m) ? null : m));
  const n3 = lab.node('n3').status();
  assert.is(n3.vote, 'n2', 'n3 voted for n2');
  assert.is(n3.lead, null, 'and knows no leader');
  assert.is(lab.node('n3').ticksUntilLeaderKnown(), ELECTING_TICKS);

  lab.elect('n2');
  lab.heartbeatRounds(1);
  assert.is(lab.node('n2').ticksUntilLeaderKnown(), null);
  assert.ok(lab.node('n3').ticksUntilLeaderKnown()! >= ELECTION_TICKS + ROUND_TICKS - 1, 'following n2: its timer, restarted by the heartbeat');
});

test.run();
