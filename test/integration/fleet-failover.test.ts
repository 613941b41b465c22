import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { silentLogger } from '../../shared/log/logger.js';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { Fleet } from '../support/fleet.js';
import { claimAsSigner, releaseAsSigner } from '../support/proven-release.js';
import { tempDir } from '../support/temp-dir.js';

const PODS = 100;
const TTL_MS = 6000;

test(`${PODS} agents live through a SIGKILL of the leader without one fence, and the new leader renews every lease`, async () => {
  const dir = await tempDir('fleet-failover');
  const secrets = await writeSecrets(dir.path);
  const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], ['--tick-ms', '100', '--lease-ttl-ms', String(TTL_MS), '--cooling-ms', '0', '--max-keys-per-claim', String(PODS)]);
  let fleet: Fleet | null = null;
  try {
    await cluster.startAll();
    // Keys derived up front, so the fleet claims at once.
    const warm = new CoordinatorClient([cluster.spec(await cluster.leader()).grpcEndpoint]);
    const warmLease = await claimAsSigner(warm, 'warm-up', PODS, 120_000);
    await releaseAsSigner(warm, 'warm-up', warmLease, 30_000);
    warm.close();

    fleet = new Fleet(cluster.replicas.map((r) => r.grpcEndpoint), PODS, silentLogger);
    await eventually(async () => (fleet!.holding() === PODS ? true : undefined), 60_000, 'every agent holding its key');
    // Every agent has renewed at least once with the first leader.
    await eventually(async () => (fleet!.observer.renewMs.steady.length >= PODS ? true : undefined), 3 * TTL_MS, 'a round of renewals');

    // Strike when many agents are late in their renewal interval, with the least time left to find
    // the new leader: a fault right after a round of renewals would leave them all a full deadline.
    // (An agent renews every TTL/3, a little sooner with jitter, and fences 0.8 TTL after a renewal.)
    const lateInInterval = () => fleet!.loops.filter((l) => l.msToFence !== null && l.msToFence < 0.55 * TTL_MS).length;
    await eventually(async () => (lateInInterval() >= PODS / 5 ? true : undefined), 2 * TTL_MS, 'a fifth of the agents late in their renewal interval');
    const leader = await cluster.leader();
    fleet.observer.phase = 'failover';
    await cluster.processes.get(leader)!.kill('SIGKILL');
    const survivors = cluster.replicas.map((r) => r.id).filter((id) => id !== leader);
    await cluster.leader(survivors);
    // Every agent renews twice after the kill: the second at least went to the new leader (one in flight
    // at the kill may have reached the old one), and a fence would have stopped it first.
    const renewedTwice = () => [...fleet!.observer.renewalsInFailover.values()].filter((n) => n >= 2).length;
    await eventually(async () => (renewedTwice() === PODS ? true : undefined), 4 * TTL_MS, 'every agent renewing with the new leader');

    assert.equal(fleet.observer.fences, [], 'no agent fenced');
    assert.is(fleet.holding(), PODS, 'every agent still holds its key');
    assert.is(await fleet.stop(), PODS, 'and every release is acknowledged by the new leader');
    fleet = null;
  } finally {
    await fleet?.stop();
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test.run();
