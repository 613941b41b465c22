/**
 * A leader stopped gracefully (SIGTERM, as Kubernetes deletes its pod) hands leadership over before it
 * stops serving agents: an agent's open renewal stream is ended naming the new leader, its lease lives
 * on there, and the stopping replica expires no lease. (It used to close its agent port first and keep
 * leading meanwhile: in the e2e cluster agents met a closed port for 25 s while the replica that refused
 * them still led, and expired their leases.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { keyleaseProto, type RenewResponse__Output } from '../../shared/proto/load.js';
import { writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { claimAsSigner } from '../support/proven-release.js';
import { tempDir } from '../support/temp-dir.js';

const IDS = ['r1', 'r2', 'r3'];

test('a leader stopped with SIGTERM hands over first: its renewal streams end naming the new leader, which renews the same lease', async () => {
  const dir = await tempDir('leader-shutdown');
  const cluster = await TestCluster.create(dir.path, await writeSecrets(dir.path), IDS, ['--cooling-ms', '0']);
  const Allocation = keyleaseProto().keylease.v1.Allocation;
  let raw: InstanceType<typeof Allocation> | null = null;
  const client = new CoordinatorClient(cluster.agentEndpoints.split(','));
  try {
    await cluster.startAll();
    const leader = await cluster.leader();
    const lease = await claimAsSigner(client, 'pod-a', 1, 30_000);

    raw = new Allocation(cluster.spec(leader).grpcEndpoint, grpc.credentials.createInsecure());
    const stream = raw.RenewStream();
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    const answered = new Promise<RenewResponse__Output>((resolve) => stream.once('data', resolve));
    stream.write({ podName: 'pod-a', leaseId: lease.leaseId, slashingProtection: '', protectionVersion: '', sequence: 1 });
    assert.ok((await answered).leaseTtlMs > 0, 'the stream renews at the leader');

    const proc = cluster.processes.get(leader)!;
    const stoppedAt = Date.now();
    proc.child.kill('SIGTERM');
    const error = await ended;
    const endedAfterMs = Date.now() - stoppedAt;
    assert.is(error.code, grpc.status.UNAVAILABLE);
    assert.match(error.details, /shutting down/);
    assert.is(String(error.metadata.get('keylease-not-applied')[0]), '1');
    const named = String(error.metadata.get('keylease-leader-id')[0]);
    assert.ok(named !== leader && IDS.includes(named), `the stream's end names the new leader, not ${named}`);
    await proc.exited;
    const exitedAfterMs = Date.now() - stoppedAt;

    const next = await cluster.leader(IDS.filter((id) => id !== leader));
    assert.is(next, named);
    const renewed = await new CoordinatorClient([cluster.spec(next).grpcEndpoint]).renew('pod-a', lease.leaseId, 5000);
    assert.ok(renewed.leaseTtlMs > 0, 'the new leader renews the same lease');
    assert.ok(proc.records.some((r) => r.msg === 'leadership handed over before shutdown'));
    assert.not.ok(proc.records.some((r) => r.msg === 'lease expired without renewal'), 'the stopping replica expired no lease');
    console.log(`  • measured: SIGTERM → the renewal stream ended naming ${named} after ${endedAfterMs} ms; the process exited after ${exitedAfterMs} ms`);
  } finally {
    raw?.close();
    client.close();
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test.run();
