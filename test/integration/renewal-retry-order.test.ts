import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:net';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { LeaseLoop } from '../../agent/lease-loop.js';
import { systemClock } from '../../shared/clock/clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { keyleaseProto, type RenewRequest__Output, type RenewResponse } from '../../shared/proto/load.js';
import { callRefusal } from '../support/call-refusal.js';
import { eventually } from '../support/coordinator-fixture.js';
import { InMemoryValidator } from '../support/fleet.js';

/** A loopback port nothing listens on: a connection there is refused, as to a replica that died. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('after a dead replica each client moves on in its own order, so a fleet does not all ask the same replica next, and each still tries every one', async () => {
  const endpoints = await Promise.all([closedPort(), closedPort(), closedPort()]).then((ports) => ports.map((port) => `127.0.0.1:${port}`));
  const nextAfterFirst = new Set<string>();
  for (let i = 0; i < 24; i++) {
    const client = new CoordinatorClient(endpoints);
    try {
      const visited = [client.endpoint];
      for (let attempt = 0; attempt < 3; attempt++) {
        await client.renew(`validator-${i}`, 'lease-1', 2000).then(
          () => assert.unreachable('a closed port answered'),
          () => {},
        );
        visited.push(client.endpoint);
      }
      nextAfterFirst.add(visited[1]!);
      assert.equal(new Set(visited.slice(0, 3)).size, 3, 'three failures visit the three replicas');
      assert.is(visited[3], visited[0], 'and come round to the first again');
    } finally {
      client.close();
    }
  }
  assert.equal(nextAfterFirst, new Set(endpoints.slice(1)), 'the fleet moves on to both other replicas');
});

/**
 * A stand-in replica mid-election: grants the claim when `grants` (the leader before), and refuses every
 * renewal as a follower that knows no leader does, saying when it expects one when `retryAfterMs` is set.
 */
async function electing(name: string, grants: boolean, refusedAtMs: Array<{ replica: string; atMs: number }>, retryAfterMs: number | null): Promise<{ server: grpc.Server; endpoint: string }> {
  const server = new grpc.Server();
  server.addService(keyleaseProto().keylease.v1.Allocation.service, {
    Claim: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => {
      if (!grants) return done({ code: grpc.status.UNAVAILABLE, details: 'not the leader' });
      done(null, { leaseId: 'lease-1', leaseTtlMs: 6000, genesisValidatorsRoot: `0x${'00'.repeat(32)}`, genesisForkVersion: '0x00000000', keys: [{ pubKey: `0x${'a1'.repeat(48)}`, keystoreJson: '{}', keystorePassword: 'pw', slashingProtection: '' }] });
    },
    RenewStream: (call: grpc.ServerDuplexStream<RenewRequest__Output, unknown>) => {
      call.on('data', () => {
        refusedAtMs.push({ replica: name, atMs: performance.now() });
        const metadata = new grpc.Metadata();
        metadata.set('keylease-not-applied', '1');
        if (retryAfterMs !== null) metadata.set('keylease-retry-after-ms', String(retryAfterMs));
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'this replica is not the leader and knows of none yet: retry shortly', metadata });
      });
    },
    Release: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => done(null, { quarantined: [] }),
  });
  return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve({ server, endpoint: `127.0.0.1:${port}` }))));
}

/** Runs a lease loop against two electing stand-ins until three renewals were refused; the ms between the first two. */
async function pauseAfterLeaderlessRefusal(retryAfterMs: number | null): Promise<number> {
  const refusedAtMs: Array<{ replica: string; atMs: number }> = [];
  const replicas = [await electing('first', true, refusedAtMs, retryAfterMs), await electing('second', false, refusedAtMs, retryAfterMs)];
  const client = new CoordinatorClient(replicas.map((r) => r.endpoint));
  const loop = new LeaseLoop({ podName: 'validator-0', pool: 'default', keyCount: 1, holder: new InMemoryValidator(), signingMode: 'signer', client, clock: systemClock, logger: silentLogger, fenceMarginMs: 0, requestTimeoutMs: 5000 });
  try {
    void loop.start();
    // The first renewal is due a third of the TTL after the claim; the refusals that follow are what is measured.
    while (refusedAtMs.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    const [first, second] = refusedAtMs;
    assert.is(first!.replica, 'first');
    assert.is(second!.replica, 'second', 'then the next replica');
    return second!.atMs - first!.atMs;
  } finally {
    await loop.stop();
    client.close();
    for (const r of replicas) r.server.forceShutdown();
  }
}

test('a renewal refused by a replica that knows no leader (an election) is tried at the next replica only after a pause', async () => {
  // The pause is the renewal backoff's first step, 250 ms, up to half sooner for jitter.
  const pausedMs = await pauseAfterLeaderlessRefusal(null);
  assert.ok(pausedMs >= 120, `the next replica was asked ${pausedMs.toFixed(0)} ms after a leaderless refusal: no pause`);
});

test('a refusal that says when a leader is expected is followed by a pause at least that long (within a quarter of the time left)', async () => {
  // The lease has 6 s; refused at its first renewal (2 s in), a quarter of what is left is ~1 s.
  const pausedMs = await pauseAfterLeaderlessRefusal(700);
  assert.ok(pausedMs >= 690 && pausedMs <= 1100, `the next replica was asked ${pausedMs.toFixed(0)} ms after a refusal that said 700 ms`);
});

/** A stand-in replica's renewal streams: how many were opened, and what each renewal carried and found. */
interface StandInStreams {
  readonly server: grpc.Server;
  readonly endpoint: string;
  opened: number;
  inBandAsked: boolean[];
  renewals: number;
}

/**
 * A stand-in replica whose RenewStream refuses every renewal as a follower that names `leader` does: as a
 * message when the stream asked for in-band refusals (the stream stays open), else as the stream's status.
 * With `leader` null it never answers (a leader too busy to). `retryAfterMs`: when the stand-in says a
 * leader could next be known (0: it does not say).
 */
async function standIn(leader: () => { endpoint: string; id: string } | null, retryAfterMs = 0): Promise<StandInStreams> {
  const server = new grpc.Server();
  const replica = { server, endpoint: '', opened: 0, inBandAsked: [] as boolean[], renewals: 0 };
  server.addService(keyleaseProto().keylease.v1.Allocation.service, {
    RenewStream: (call: grpc.ServerDuplexStream<RenewRequest__Output, RenewResponse>) => {
      replica.opened++;
      const inBand = call.metadata.get('keylease-renew-refusals')[0] === 'in-band';
      replica.inBandAsked.push(inBand);
      call.on('data', (request: RenewRequest__Output) => {
        replica.renewals++;
        const named = leader();
        if (!named) return;
        const details = `this replica is not the leader; replica ${named.id} leads and takes agent calls at ${named.endpoint}`;
        if (inBand) call.write({ sequence: request.sequence, refusal: { status: grpc.status.UNAVAILABLE, refusalCode: '', message: details, notApplied: true, leaderEndpoint: named.endpoint, leaderId: named.id, retryAfterMs } });
        else {
          const metadata = new grpc.Metadata();
          metadata.set('keylease-not-applied', '1');
          metadata.set('keylease-leader', named.endpoint);
          metadata.set('keylease-leader-id', named.id);
          if (retryAfterMs > 0) metadata.set('keylease-retry-after-ms', String(retryAfterMs));
          call.emit('error', { code: grpc.status.UNAVAILABLE, details, metadata });
        }
      });
      call.on('end', () => call.end());
    },
  });
  replica.endpoint = await new Promise<string>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(`127.0.0.1:${port}`))));
  return replica;
}

test("a follower's refusals come back on one stream that stays open; the leader it names is given a second attempt before the agent moves on", async () => {
  const leader = await standIn(() => null);
  const follower = await standIn(() => ({ endpoint: leader.endpoint, id: 'r-leader' }));
  const client = new CoordinatorClient([follower.endpoint, leader.endpoint]);
  // As the lease loop renews: a renewal still unanswered since the last confirmed one (none yet) is waited for.
  const renew = () => callRefusal(client.renew('validator-0', 'lease-1', 300, {}, performance.now(), 0));
  try {
    const refused = await renew();
    assert.is(refused.leaderId, 'r-leader', "the follower's refusal, read from its message, names the leader");
    assert.is(refused.notApplied, true);
    assert.is(client.endpoint, leader.endpoint, 'the next call goes to the named leader');
    const first = await renew();
    assert.is(first.status, grpc.status.DEADLINE_EXCEEDED);
    assert.is(client.endpoint, leader.endpoint, 'one timeout at the leader a follower named: it is asked again');
    const second = await renew();
    assert.is(second.status, grpc.status.DEADLINE_EXCEEDED);
    assert.is(client.endpoint, follower.endpoint, 'a second timeout: the agent moves on');
    assert.is(leader.renewals, 1, 'the second attempt waited for the renewal the first sent');
    await renew();
    assert.is(follower.renewals, 2);
    assert.is(follower.opened, 1, 'both refusals came on one stream');
    assert.equal(follower.inBandAsked, [true], 'which asked for refusals as messages');
  } finally {
    client.close();
    for (const r of [leader, follower]) r.server.forceShutdown();
  }
});

test('a leader a follower vouched for (it would not campaign for so long) is waited for through timeouts until then, not left for the follower', async () => {
  const VOUCHED_MS = 1000;
  const leader = await standIn(() => null);
  const follower = await standIn(() => ({ endpoint: leader.endpoint, id: 'r-leader' }), VOUCHED_MS);
  const client = new CoordinatorClient([follower.endpoint, leader.endpoint]);
  const renew = () => callRefusal(client.renew('validator-0', 'lease-1', 200, {}, performance.now(), 0));
  try {
    await renew();
    const vouchedAt = performance.now();
    assert.is(client.endpoint, leader.endpoint, 'the follower named the leader');
    for (let timeouts = 1; performance.now() - vouchedAt < VOUCHED_MS - 250; timeouts++) {
      assert.is((await renew()).status, grpc.status.DEADLINE_EXCEEDED);
      assert.is(client.endpoint, leader.endpoint, `timeout ${timeouts}, ${Math.round(performance.now() - vouchedAt)} ms after the follower vouched: still at the leader`);
    }
    let movedOnAfterMs = 0;
    for (let attempt = 0; attempt < 5 && client.endpoint === leader.endpoint; attempt++) {
      await renew();
      movedOnAfterMs = performance.now() - vouchedAt;
    }
    assert.is(client.endpoint, follower.endpoint, 'once the vouching ran out (and one more timeout), the agent asks the follower again');
    assert.ok(movedOnAfterMs >= VOUCHED_MS, `moved on ${Math.round(movedOnAfterMs)} ms after the follower vouched`);
    assert.is(follower.renewals, 1, 'the follower was not asked meanwhile');
    assert.is(leader.renewals, 1, 'every attempt at the leader waited for the one renewal sent');
  } finally {
    client.close();
    for (const r of [leader, follower]) r.server.forceShutdown();
  }
});

test('a replica whose last connection attempt failed is passed over without a call, so a refusal naming it as leader is followed by a pause, not by a round of failed calls', async () => {
  const dead = `127.0.0.1:${await closedPort()}`;
  // Until its election timer fires, a follower still names the leader that died.
  const follower = await standIn(() => ({ endpoint: dead, id: 'r-dead' }));
  const client = new CoordinatorClient([dead, follower.endpoint]);
  try {
    const refusedAt = await callRefusal(client.renew('validator-0', 'lease-1', 2000));
    assert.is(refusedAt.status, grpc.status.UNAVAILABLE, 'the dead replica: connection refused');
    assert.is(client.endpoint, follower.endpoint);
    const named = await callRefusal(client.renew('validator-0', 'lease-1', 2000));
    assert.is(named.leaderId, 'r-dead');
    assert.is(client.endpoint, dead, 'the follower named the dead leader');
    const again = await callRefusal(client.renew('validator-0', 'lease-1', 2000));
    assert.is(again.leaderId, 'r-dead', "the next renewal went past the dead replica to the follower, not to a call that fails (grpc-js's 'No connection established')");
    assert.is(follower.renewals, 2);
  } finally {
    client.close();
    follower.server.forceShutdown();
  }

  // In the lease loop: the renewal after a refusal naming the dead leader goes past it to the follower
  // again, and that refusal (from the replica asked, naming the same leader) is followed by a pause.
  const askedAtMs: number[] = [];
  const server = new grpc.Server();
  server.addService(keyleaseProto().keylease.v1.Allocation.service, {
    Claim: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) =>
      done(null, { leaseId: 'lease-1', leaseTtlMs: 6000, genesisValidatorsRoot: `0x${'00'.repeat(32)}`, genesisForkVersion: '0x00000000', keys: [{ pubKey: `0x${'a1'.repeat(48)}`, keystoreJson: '{}', keystorePassword: 'pw', slashingProtection: '' }] }),
    RenewStream: (call: grpc.ServerDuplexStream<RenewRequest__Output, RenewResponse>) => {
      call.on('data', (request: RenewRequest__Output) => {
        askedAtMs.push(performance.now());
        call.write({ sequence: request.sequence, refusal: { status: grpc.status.UNAVAILABLE, refusalCode: '', message: `not the leader; replica r-dead leads at ${dead}`, notApplied: true, leaderEndpoint: dead, leaderId: 'r-dead' } });
      });
      call.on('end', () => call.end());
    },
    Release: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => done(null, { quarantined: [] }),
  });
  const endpoint = await new Promise<string>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(`127.0.0.1:${port}`))));
  const loopClient = new CoordinatorClient([endpoint, dead]);
  const loop = new LeaseLoop({ podName: 'validator-1', pool: 'default', keyCount: 1, holder: new InMemoryValidator(), signingMode: 'signer', client: loopClient, clock: systemClock, logger: silentLogger, fenceMarginMs: 0, requestTimeoutMs: 5000 });
  try {
    void loop.start();
    while (askedAtMs.length < 4) await new Promise((resolve) => setTimeout(resolve, 50));
    // The first refusal sends the loop to the dead replica at once (nothing is known of it yet); its
    // connection is refused, and the follower is asked again. From then on the dead replica is passed
    // over, and each refusal is followed by a pause: the renewal backoff, from 250 ms, up to half sooner
    // for jitter. Calling the dead replica each time, the loop asked again within milliseconds.
    const gapsMs = askedAtMs.slice(2, 4).map((at, i) => at - askedAtMs[i + 1]!);
    assert.ok(gapsMs.every((gap) => gap >= 120), `the follower was asked again ${gapsMs.map((g) => g.toFixed(0)).join(' and ')} ms after refusals naming an unreachable leader: no pause`);
  } finally {
    await loop.stop();
    loopClient.close();
    server.forceShutdown();
  }
});

/** A stand-in leader: answers every renewal on its RenewStream, counting streams opened and renewals. */
async function answering(): Promise<StandInStreams> {
  const server = new grpc.Server();
  const replica = { server, endpoint: '', opened: 0, inBandAsked: [] as boolean[], renewals: 0 };
  server.addService(keyleaseProto().keylease.v1.Allocation.service, {
    RenewStream: (call: grpc.ServerDuplexStream<RenewRequest__Output, RenewResponse>) => {
      replica.opened++;
      call.on('data', (request: RenewRequest__Output) => {
        replica.renewals++;
        call.write({ sequence: request.sequence, leaseTtlMs: 6000, protectionVersion: '' });
      });
      call.on('end', () => call.end());
    },
  });
  replica.endpoint = await new Promise<string>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(`127.0.0.1:${port}`))));
  return replica;
}

test('after a renewal is answered, a stream stays open to every other replica, and when the leader dies the next renewal goes on it', async () => {
  const leader = await answering();
  const next = await answering();
  const client = new CoordinatorClient([leader.endpoint, next.endpoint]);
  try {
    assert.is((await client.renew('validator-0', 'lease-1', 2000)).leaseTtlMs, 6000);
    await eventually(async () => (next.opened === 1 ? true : undefined), 5000, 'a stream opened to the other replica');
    assert.is(next.renewals, 0, 'idle: nothing was sent on it');
    for (let i = 0; i < 3; i++) await client.renew('validator-0', 'lease-1', 2000);
    assert.is(next.opened, 1, 'renewals at the leader open no more streams elsewhere');

    leader.server.forceShutdown();
    const refused = await callRefusal(client.renew('validator-0', 'lease-1', 2000));
    // Cancelled (the stand-in's hard shutdown cancels its streams) or unavailable: either way the client moves on.
    assert.ok([grpc.status.CANCELLED, grpc.status.UNAVAILABLE].includes(refused.status), `the dead leader: status ${refused.status}`);
    assert.is(client.endpoint, next.endpoint);
    assert.is((await client.renew('validator-0', 'lease-1', 2000)).leaseTtlMs, 6000, 'renewed at the other replica');
    assert.is(next.renewals, 1);
    assert.is(next.opened, 1, 'on the stream kept open: none opened at the failover');
  } finally {
    client.close();
    next.server.forceShutdown();
  }
});

test.run();
