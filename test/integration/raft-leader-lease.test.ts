/**
 * Real replicas, real signals, real TCP links cut: a leader that was stopped (SIGSTOP) while the others
 * elected a successor comes back still believing it leads. Renewals are answered from the leader's
 * memory, so without its leader lease it would extend a lease its successor is counting down.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { keyleaseProto } from '../../shared/proto/load.js';
import { writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { claimAsSigner } from '../support/proven-release.js';
import { LinkProxy } from '../support/tcp-proxy.js';
import { tempDir } from '../support/temp-dir.js';

const IDS = ['r1', 'r2', 'r3'];

test('a leader stopped while another was elected does not renew a lease when it resumes; its successor does', async () => {
  const dir = await tempDir('raft-leader-lease');
  const cluster = await TestCluster.create(dir.path, await writeSecrets(dir.path), IDS, ['--cooling-ms', '0']);
  const links = new Map<string, LinkProxy>();
  for (const from of IDS) for (const to of IDS) if (from !== to) links.set(`${from}>${to}`, await LinkProxy.start(cluster.spec(to).raftPort));
  const client = new CoordinatorClient([cluster.spec('r1').grpcEndpoint]);
  const Allocation = keyleaseProto().keylease.v1.Allocation;
  let raw: InstanceType<typeof Allocation> | null = null;
  try {
    await Promise.all(IDS.map((id) => cluster.start(id, { peerAddress: (peer) => `127.0.0.1:${links.get(`${id}>${peer.id}`)!.port}` })));
    const stale = await cluster.leader();
    const others = IDS.filter((id) => id !== stale);
    const lease = await claimAsSigner(client, 'pod-a', 1, 30_000);
    await client.renew('pod-a', lease.leaseId, 5000);

    // The fault: the leader stops, and its links to the others stay cut after it resumes, so it hears of
    // no successor while the agent still reaches it.
    const proc = cluster.processes.get(stale)!;
    proc.child.kill('SIGSTOP');
    for (const [name, link] of links) if (name.startsWith(`${stale}>`) || name.endsWith(`>${stale}`)) link.setCut(true);
    const successor = await cluster.leader(others);
    const successorTerm = (await cluster.status(successor))!.term;

    raw = new Allocation(cluster.spec(stale).grpcEndpoint, grpc.credentials.createInsecure());
    proc.child.kill('SIGCONT');
    const askedAt = Date.now();
    const outcome = await new Promise<grpc.ServiceError | 'renewed'>((resolve) =>
      raw!.Renew({ podName: 'pod-a', leaseId: lease.leaseId, slashingProtection: '' }, { deadline: Date.now() + 10_000 }, (error) => resolve(error ?? 'renewed')),
    );
    assert.ok(outcome !== 'renewed', 'the stopped leader renewed a lease after another replica was elected');
    assert.is(outcome.code, grpc.status.UNAVAILABLE, `refused as "try another replica": ${outcome.details}`);
    assert.is(String(outcome.metadata.get('keylease-not-applied')[0]), '1', 'and marked not applied');
    const refusedAfterMs = Date.now() - askedAt;

    // The agent's next try goes to the successor, which still holds the lease.
    const successorClient = new CoordinatorClient([cluster.spec(successor).grpcEndpoint]);
    try {
      const renewed = await successorClient.renew('pod-a', lease.leaseId, 5000);
      assert.ok(renewed.leaseTtlMs > 0, 'the successor renews the same lease');
    } finally {
      successorClient.close();
    }
    for (const link of links.values()) link.setCut(false);
    assert.is(await cluster.leader(), successor, 'the resumed replica follows its successor once the links heal');
    assert.ok((await cluster.status(stale))!.term >= successorTerm);
    console.log(`  • measured: the resumed leader refused the renewal after ${refusedAfterMs} ms (${outcome.details.slice(0, 120)})`);
  } finally {
    raw?.close();
    client.close();
    await cluster.stopAll();
    for (const link of links.values()) await link.close();
    await dir.cleanup();
  }
});

test.run();
