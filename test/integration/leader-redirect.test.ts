import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { keyleaseProto, type RenewResponse__Output } from '../../shared/proto/load.js';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { TEST_TICK_MS, TestCluster } from '../support/cluster-fixture.js';
import { claimAsSigner, releaseAsSigner } from '../support/proven-release.js';
import { tempDir } from '../support/temp-dir.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let cluster: TestCluster;
let leaderId: string;
let followerId: string;

test.before(async () => {
  dir = await tempDir('leader-redirect');
  const secrets = await writeSecrets(dir.path);
  cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], ['--cooling-ms', '0']);
  await cluster.startAll();
  leaderId = await cluster.leader();
  followerId = cluster.replicas.map((r) => r.id).find((id) => id !== leaderId)!;
});

test.after(async () => {
  await cluster.stopAll();
  await dir.cleanup();
});

/**
 * A follower hearing from its leader says when it would campaign, were the leader to go silent now: what
 * is left of its election timer plus an election's round (2 ticks); more than the round alone, since the
 * leader is known. Its connection to the leader is up, so the timer is the stalled leader's: up to twice
 * electionTicks (default 10), and two more election timeouts.
 */
function assertLeaderKnownIn(retryAfterMs: number): void {
  const tickMs = TEST_TICK_MS;
  assert.ok(retryAfterMs > 2 * tickMs && retryAfterMs <= (4 * 10 + 2) * tickMs, `when to ask again if the leader cannot be reached: ${retryAfterMs} ms`);
}

test("a follower's refusal names the leader's replica id and agent endpoint in its trailers", async () => {
  const Allocation = keyleaseProto().keylease.v1.Allocation;
  const raw = new Allocation(cluster.spec(followerId).grpcEndpoint, grpc.credentials.createInsecure());
  try {
    const error = await new Promise<grpc.ServiceError>((resolve, reject) =>
      raw.Renew({ podName: 'pod-a', leaseId: 'lease-1', slashingProtection: '' }, { deadline: Date.now() + 5000 }, (e) => (e ? resolve(e) : reject(new Error('a follower renewed a lease')))),
    );
    assert.is(error.code, grpc.status.UNAVAILABLE);
    assert.is(String(error.metadata.get('keylease-leader-id')[0]), leaderId);
    assert.is(String(error.metadata.get('keylease-leader')[0]), cluster.spec(leaderId).grpcEndpoint);
    assert.is(String(error.metadata.get('keylease-not-applied')[0]), '1');
    assert.match(error.details, new RegExp(`replica ${leaderId} leads`));
    assertLeaderKnownIn(Number(error.metadata.get('keylease-retry-after-ms')[0]));
  } finally {
    raw.close();
  }
});

test("on a renewal stream that asked for in-band refusals, a follower's refusals are messages naming the leader, and the stream stays open", async () => {
  const Allocation = keyleaseProto().keylease.v1.Allocation;
  const raw = new Allocation(cluster.spec(followerId).grpcEndpoint, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('keylease-renew-refusals', 'in-band');
  const stream = raw.RenewStream(metadata);
  const answers: RenewResponse__Output[] = [];
  let status: grpc.StatusObject | null = null;
  stream.on('data', (answer: RenewResponse__Output) => answers.push(answer));
  stream.on('status', (s: grpc.StatusObject) => (status = s));
  stream.on('error', () => {});
  try {
    for (const sequence of [7, 8, 9]) {
      stream.write({ podName: 'pod-a', leaseId: 'lease-1', slashingProtection: '', protectionVersion: '', sequence });
      await eventually(async () => (answers.length === sequence - 6 ? true : undefined), 5000, `the answer to renewal ${sequence}`);
    }
    assert.equal(answers.map((a) => a.sequence), [7, 8, 9], 'every renewal answered, in order, on the one stream');
    for (const answer of answers) {
      assert.ok(answer.refusal, 'a refusal');
      assert.is(answer.refusal.status, grpc.status.UNAVAILABLE);
      assert.is(answer.refusal.leaderId, leaderId);
      assert.is(answer.refusal.leaderEndpoint, cluster.spec(leaderId).grpcEndpoint);
      assert.is(answer.refusal.notApplied, true);
      assert.match(answer.refusal.message, new RegExp(`replica ${leaderId} leads`));
      assertLeaderKnownIn(answer.refusal.retryAfterMs);
      assert.is(answer.leaseTtlMs, 0, 'nothing renewed');
    }
    assert.is(status, null, 'the stream did not end');
  } finally {
    stream.end();
    raw.close();
  }
});

test('on a renewal stream that did not ask (an agent from before), the first refusal ends the stream with its trailers', async () => {
  const Allocation = keyleaseProto().keylease.v1.Allocation;
  const raw = new Allocation(cluster.spec(followerId).grpcEndpoint, grpc.credentials.createInsecure());
  const stream = raw.RenewStream(new grpc.Metadata());
  const answers: RenewResponse__Output[] = [];
  stream.on('data', (answer: RenewResponse__Output) => answers.push(answer));
  try {
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    stream.write({ podName: 'pod-a', leaseId: 'lease-1', slashingProtection: '', protectionVersion: '', sequence: 1 });
    const error = await ended;
    assert.is(error.code, grpc.status.UNAVAILABLE);
    assert.is(String(error.metadata.get('keylease-leader-id')[0]), leaderId);
    assert.is(answers.length, 0, 'no message');
  } finally {
    raw.close();
  }
});

test('a claim sent to a follower lands on the leader with one redirect', async () => {
  // Only the follower is configured: without the redirect the claim could not succeed.
  const client = new CoordinatorClient([cluster.spec(followerId).grpcEndpoint]);
  try {
    const lease = await claimAsSigner(client, 'pod-redirected', 1, 30_000);
    assert.is(lease.keys.length, 1);
    assert.is(client.redirectsFollowed, 1);
    assert.is(client.endpoint, cluster.spec(leaderId).grpcEndpoint, 'later calls go straight to the leader');
    // The renewal and release go straight to the leader: no further redirect.
    await client.renew('pod-redirected', lease.leaseId, 5000);
    await releaseAsSigner(client, 'pod-redirected', lease, 5000);
    assert.is(client.redirectsFollowed, 1);
  } finally {
    client.close();
  }
});

test.run();
