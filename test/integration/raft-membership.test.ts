import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { eventually, fetchAssignments, writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

test('a dead replica is replaced: the new one joins as a learner, catches up by snapshot, is promoted, the dead one removed', async () => {
  const dir = await tempDir('raft-membership');
  const secrets = await writeSecrets(dir.path);
  const tokenFile = join(dir.path, 'api-token.txt');
  await writeFile(tokenFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3', 'r4'], ['--snapshot-every', '10', '--api-token-file', tokenFile, '--lease-ttl-ms', '600000']);
  const [r1, r2, r3, r4] = cluster.replicas;
  const voters = [r1!, r2!, r3!];
  const client = new CoordinatorClient(voters.map((r) => r.grpcEndpoint));
  try {
    await Promise.all(voters.map((r) => cluster.start(r.id, { peers: voters.filter((p) => p !== r) })));
    const leader = await cluster.leader(['r1', 'r2', 'r3']);
    // Enough commands for several snapshots, so the newcomer cannot catch up from the log alone.
    const held = await eventually(() => client.claim('holder', 'default', 2, 5000), 10_000, 'a first claim');
    for (let i = 0; i < 15; i++) {
      const lease = await eventually(() => client.claim(`pod-${i}`, 'default', 1, 5000), 10_000, 'a claim');
      await client.release(`pod-${i}`, lease.leaseId, 5000, { requestId: `release-${i}` });
    }

    const dead = ['r1', 'r2', 'r3'].find((id) => id !== leader)!;
    await cluster.processes.get(dead)!.kill('SIGKILL');
    await cluster.start('r4', { join: true, peers: voters });
    const http = cluster.replicas.map((r) => r.httpBase).join(',');
    const cli = (...args: string[]) => runKeylease(['cluster', ...args, '--http', http, '--token-file', tokenFile]);

    const wrongToken = join(dir.path, 'wrong-token.txt');
    await writeFile(wrongToken, 'x'.repeat(64));
    const refused = await runKeylease(['cluster', 'add-learner', '--id', 'r4', '--raft-address', `127.0.0.1:${r4!.raftPort}`, '--http', cluster.spec(leader).httpBase, '--token-file', wrongToken]);
    assert.is(refused.code, 1);
    assert.match(refused.output, /bearer token/);

    const added = await cli('add-learner', '--id', 'r4', '--raft-address', `127.0.0.1:${r4!.raftPort}`);
    assert.is(added.code, 0, added.output);
    await cluster.processes.get('r4')!.waitForMessage('installed a snapshot from the leader', 15_000);
    const promoted = await cli('promote', '--id', 'r4');
    assert.is(promoted.code, 0, promoted.output);
    const removed = await cli('remove', '--id', dead);
    assert.is(removed.code, 0, removed.output);
    const twice = await cli('remove', '--id', dead);
    assert.is(twice.code, 1, 'removing a non-member is refused');
    assert.match(twice.output, /not a member/);

    const status = (await cluster.status(leader))!;
    assert.equal(status.confState, { voters: ['r4', ...['r1', 'r2', 'r3'].filter((id) => id !== dead)].sort(), learners: [] });
    const shown = await cli('status');
    assert.match(shown.output, new RegExp(`r4\\s+follower`));

    // Stop the old leader: the two remaining voters, one of them the newcomer, must elect a leader.
    const before = await fetchAssignments(cluster.spec(leader).httpBase);
    await cluster.processes.get(leader)!.kill('SIGKILL');
    const remaining = ['r1', 'r2', 'r3', 'r4'].filter((id) => id !== dead && id !== leader);
    const next = await cluster.leader(remaining);
    const after = await fetchAssignments(cluster.spec(next).httpBase);
    assert.equal(after.pods.map((p) => [p.podName, p.pubKeys]), before.pods.map((p) => [p.podName, p.pubKeys]));
    assert.ok(after.pods.some((p) => p.podName === 'holder' && p.leaseId === held.leaseId));
  } finally {
    client.close();
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test.run();
