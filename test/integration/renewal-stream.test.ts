import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { RenewalWatermarks } from '../../agent/renewal-watermarks.js';
import { keyleaseProto, type RenewRequest__Output } from '../../shared/proto/load.js';
import { parseInterchange, watermarksByKey } from '../../shared/eth/slashing-protection/index.js';
import { callRefusal } from '../support/call-refusal.js';
import { eventually, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { TestCluster } from '../support/cluster-fixture.js';
import { claimAsSigner, signerProtection } from '../support/proven-release.js';
import { tempDir } from '../support/temp-dir.js';
import { WatermarkAgent } from '../support/watermark-agent.js';

const TTL_MS = 3000;

test('watermarks go in full only when they changed or the leader lacks them; after a SIGKILL of the leader they reach the new one at once, and outlive the agent', async () => {
  const dir = await tempDir('renewal-watermarks');
  const secrets = await writeSecrets(dir.path);
  const cluster = await TestCluster.create(dir.path, secrets, ['r1', 'r2', 'r3'], ['--lease-ttl-ms', String(TTL_MS), '--cooling-ms', '0', '--pool-max-keys', '1']);
  const agent = { current: null as WatermarkAgent | null };
  try {
    await cluster.startAll();
    const first = await cluster.leader();
    agent.current = new WatermarkAgent(cluster.replicas.map((r) => r.grpcEndpoint), 'validator-w');
    const running = agent.current;
    await eventually(async () => running.holding ?? undefined, 30_000, 'the agent holding its key');
    // Far above the slot and epoch of the wall clock, which a key claimed after an expiry is raised to (S8).
    running.signed({ blockSlot: 100_000_000n, sourceEpoch: 3_000_000n, targetEpoch: 3_125_000n });
    // The first renewal carries them; the leader confirms their version, and two more go without them.
    const changedAt = running.renewals.length;
    await eventually(async () => (running.renewals.length >= changedAt + 3 ? true : undefined), 4 * TTL_MS, 'three renewals after the watermarks changed');
    assert.equal(running.renewals.slice(changedAt, changedAt + 3), [true, false, false], 'in full once, then by version only');

    await cluster.processes.get(first)!.kill('SIGKILL');
    const killedAt = running.renewals.length;
    await cluster.leader(cluster.replicas.map((r) => r.id).filter((id) => id !== first));
    // The new leader holds no version: the renewal that finds it is followed at once by one in full.
    await eventually(async () => (running.renewals.slice(killedAt).includes(true) && running.renewals.length >= killedAt + 3 ? true : undefined), 4 * TTL_MS, 'renewals with the new leader');
    assert.is(running.renewals.slice(killedAt).filter((full) => full).length, 1, `sent in full once to the new leader: ${running.renewals.slice(killedAt).join(', ')}`);
    assert.equal(running.fences, [], 'the agent never fenced');

    // The agent dies: the new leader expires the lease with the watermarks it holds, and the next holder gets them.
    await running.kill();
    const next = new CoordinatorClient(cluster.replicas.map((r) => r.grpcEndpoint));
    try {
      const lease = await eventually(() => claimAsSigner(next, 'validator-x', 1, 5000).catch(() => undefined), 6 * TTL_MS, 'the key free again after the lease expired');
      assert.is(lease.keys[0]!.pubKey, running.holding!.pubKey);
      const marks = watermarksByKey(parseInterchange(lease.keys[0]!.slashingProtection)).get(lease.keys[0]!.pubKey);
      assert.is(marks?.maxBlockSlot, 100_000_000n, 'the block watermark the dead agent reported to the second leader');
      assert.is(marks?.maxTargetEpoch, 3_125_000n, 'and its attestation target');
    } finally {
      next.close();
    }
  } finally {
    await agent.current?.kill();
    await cluster.stopAll();
    await dir.cleanup();
  }
});

test('the stream ends at a refusal and the next renewal opens another; an agent renewing with Renew calls (before RenewStream) is answered beside it', async () => {
  const dir = await tempDir('renewal-stream');
  const secrets = await writeSecrets(dir.path);
  const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--lease-ttl-ms', '10000'] });
  const streaming = new CoordinatorClient([coordinator.grpcEndpoint]);
  const unary = new CoordinatorClient([coordinator.grpcEndpoint], undefined, null, { renewOver: 'unary' });
  try {
    const mine = await claimAsSigner(streaming, 'validator-s', 1, 30_000);
    const old = await claimAsSigner(unary, 'validator-u', 1, 30_000);
    const refused = await callRefusal(streaming.renew('validator-s', 'lease-404', 5000));
    assert.is(refused.status, status.NOT_FOUND);
    assert.is(refused.refusalCode, 'LEASE_NOT_FOUND');
    assert.is((await streaming.renew('validator-s', mine.leaseId, 5000)).leaseTtlMs, 10_000, 'renewed on a new stream after the refusal');

    const protection = signerProtection(old);
    const before = await unary.renew('validator-u', old.leaseId, 5000, { slashingProtection: protection });
    assert.equal({ leaseTtlMs: before.leaseTtlMs, protectionVersion: before.protectionVersion }, { leaseTtlMs: 10_000, protectionVersion: '' }, 'an agent that always sends its watermarks is told of no version');
    const versioned = await unary.renew('validator-u', old.leaseId, 5000, { slashingProtection: protection, protectionVersion: 'v1' });
    assert.is(versioned.protectionVersion, 'v1', 'Renew calls keep versions too');
    const other = await streaming.renew('validator-s', mine.leaseId, 5000, { protectionVersion: 'v1' });
    assert.is(other.protectionVersion, '', 'a version names one lease\'s watermarks only');
  } finally {
    streaming.close();
    unary.close();
    await coordinator.process.kill('SIGKILL');
    await dir.cleanup();
  }
});

test('against a replica from before RenewStream (a rolling upgrade) the agent renews with Renew calls, its watermarks in full each time', async () => {
  // The older replica's service: every method of today's contract but RenewStream, so a call to it is UNIMPLEMENTED.
  const { RenewStream: _unknownThen, ...olderService } = keyleaseProto().keylease.v1.Allocation.service;
  const received: RenewRequest__Output[] = [];
  const server = new grpc.Server();
  server.addService(olderService, {
    Renew: (call: grpc.ServerUnaryCall<RenewRequest__Output, unknown>, done: grpc.sendUnaryData<unknown>) => {
      received.push(call.request);
      done(null, { leaseTtlMs: 7000 });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const client = new CoordinatorClient([`127.0.0.1:${port}`]);
  const watermarks = new RenewalWatermarks();
  try {
    for (let i = 0; i < 2; i++) {
      const sent = watermarks.next('{"watermarks":"as signed so far"}');
      const renewed = await client.renew('validator-o', 'lease-1', 5000, sent);
      assert.is(renewed.leaseTtlMs, 7000);
      assert.not.ok(watermarks.answered(sent, renewed), 'nothing to send again at once: they went in full');
    }
    assert.equal(received.map((r) => r.slashingProtection), ['{"watermarks":"as signed so far"}', '{"watermarks":"as signed so far"}'], 'both renewals reached it as Renew calls, in full');
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test('a renewal left unanswered in time is waited for by the next attempt, not sent again; its answer, late or not, names when it was sent', async () => {
  // A replica that answers renewals only when told to: a new leader busy with a whole fleet.
  const received: RenewRequest__Output[] = [];
  const answer: Array<() => void> = [];
  const server = new grpc.Server();
  server.addService(keyleaseProto().keylease.v1.Allocation.service, {
    RenewStream: (call: grpc.ServerDuplexStream<RenewRequest__Output, unknown>) => {
      call.on('data', (request: RenewRequest__Output) => {
        received.push(request);
        answer.push(() => call.write({ leaseTtlMs: 7000, protectionVersion: '', sequence: request.sequence }));
      });
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const client = new CoordinatorClient([`127.0.0.1:${port}`]);
  try {
    const timedOut = await callRefusal(client.renew('validator-w', 'lease-1', 100, { slashingProtection: 'marks at 1000' }, 1000, 0));
    assert.is(timedOut.status, status.DEADLINE_EXCEEDED);
    const waiting = client.renew('validator-w', 'lease-1', 5000, { slashingProtection: 'marks at 2000' }, 2000, 500);
    await eventually(async () => (received.length === 1 && answer.length === 1) || undefined, 5000, 'the first renewal to arrive');
    answer.shift()!();
    const renewed = await waiting;
    assert.is(received.length, 1, 'the second attempt sent nothing: it waited for the first renewal');
    assert.equal(renewed.answered, { sentAtMs: 1000, watermarks: { slashingProtection: 'marks at 1000' } }, 'the answer is the first renewal\'s: its send time and watermarks');

    // Answered after its attempt gave up: the next attempt takes that answer at once. A renewal of another
    // lease on the same stream, answered after it, shows the late answer has arrived.
    await callRefusal(client.renew('validator-w', 'lease-1', 100, {}, 3000, 1000));
    answer.shift()!();
    const other = client.renew('validator-w', 'lease-2', 5000, {}, 3500, 0);
    await eventually(async () => answer.length === 1 || undefined, 5000, 'the renewal of the other lease');
    answer.shift()!();
    assert.is((await other).answered.sentAtMs, 3500, 'another lease\'s renewal goes on its own');
    const late = await client.renew('validator-w', 'lease-1', 5000, {}, 4000, 2500);
    assert.is(late.answered.sentAtMs, 3000, 'the late answer, named by its send time');
    // Sent before the last confirmed renewal: not waited for; a renewal of its own goes.
    await callRefusal(client.renew('validator-w', 'lease-1', 100, {}, 5000, 4500));
    const fresh = client.renew('validator-w', 'lease-1', 5000, {}, 6000, 5500);
    await eventually(async () => answer.length === 2 || undefined, 5000, 'a renewal of its own');
    for (const send of answer.splice(0)) send();
    assert.is((await fresh).answered.sentAtMs, 6000);
    assert.equal(received.map((r) => r.leaseId), ['lease-1', 'lease-1', 'lease-2', 'lease-1', 'lease-1']);
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test.run();
