/**
 * Real replicas: a leader stopped (SIGSTOP) for longer than the election timeout keeps its leadership,
 * since its connections stay up; a killed one (SIGKILL) closes them, and its followers see that.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeSecrets } from '../support/coordinator-fixture.js';
import { TEST_TICK_MS, TestCluster } from '../support/cluster-fixture.js';
import { tempDir } from '../support/temp-dir.js';

const IDS = ['r1', 'r2', 'r3'];
/** The replicas' defaults: 10 ticks to an election (randomized up to 20), three times that for a connected leader. */
const ELECTION_MS = 10 * TEST_TICK_MS;
const STALLED_LEADER_MS = 3 * ELECTION_MS;

test('a leader stopped past the election timeout, but not the stalled-leader timeout, still leads in the same term', async () => {
  const dir = await tempDir('raft-stalled');
  const cluster = await TestCluster.create(dir.path, await writeSecrets(dir.path), IDS);
  try {
    await cluster.startAll();
    const leader = await cluster.leader();
    const term = (await cluster.status(leader))!.term;
    const proc = cluster.processes.get(leader)!;
    proc.child.kill('SIGSTOP');
    // The stall is the fault injected: longer than any follower's election timeout (at most 2·ELECTION_MS).
    await new Promise((resolve) => setTimeout(resolve, 2 * ELECTION_MS + (STALLED_LEADER_MS - 2 * ELECTION_MS) / 2));
    proc.child.kill('SIGCONT');
    assert.is(await cluster.leader(), leader);
    for (const id of IDS) assert.is((await cluster.status(id))!.term, term, `${id} is still in term ${term}`);
  } finally {
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test('a killed leader: its followers see its connection close and elect another', async () => {
  const dir = await tempDir('raft-killed');
  const cluster = await TestCluster.create(dir.path, await writeSecrets(dir.path), IDS);
  try {
    await cluster.startAll();
    const leader = await cluster.leader();
    const followers = IDS.filter((id) => id !== leader);
    await cluster.processes.get(leader)!.kill('SIGKILL');
    await Promise.all(followers.map((id) => cluster.processes.get(id)!.waitFor((r) => r.msg === 'Raft peer disconnected' && r['peer'] === leader, 10_000, `${id} seeing ${leader} disconnect`)));
    const next = await cluster.leader(followers);
    assert.ok(followers.includes(next));
  } finally {
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test.run();
