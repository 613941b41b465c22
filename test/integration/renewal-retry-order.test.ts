import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { createServer } from 'node:net';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { LeaseLoop } from '../../agent/lease-loop.js';
import { systemClock } from '../../shared/clock/clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { keyleaseProto, type RenewRequest__Output } from '../../shared/proto/load.js';
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

test('a renewal refused by a replica that knows no leader (an election) is tried at the next replica only after a pause', async () => {
  // Two replicas mid-election: the first granted the claim; both refuse renewals, naming no leader, as a follower does.
  const refusedAtMs: Array<{ replica: string; atMs: number }> = [];
  const replica = (name: string, grants: boolean) => {
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
          call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'this replica is not the leader and knows of none yet: retry shortly', metadata });
        });
      },
      Release: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => done(null, { quarantined: [] }),
    });
    return new Promise<{ server: grpc.Server; endpoint: string }>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve({ server, endpoint: `127.0.0.1:${port}` }))),
    );
  };
  const replicas = [await replica('first', true), await replica('second', false)];
  const client = new CoordinatorClient(replicas.map((r) => r.endpoint));
  const loop = new LeaseLoop({ podName: 'validator-0', pool: 'default', keyCount: 1, holder: new InMemoryValidator(), signingMode: 'signer', client, clock: systemClock, logger: silentLogger, fenceMarginMs: 0, requestTimeoutMs: 5000 });
  try {
    void loop.start();
    // The first renewal is due a third of the TTL after the claim; the refusals that follow are what is measured.
    while (refusedAtMs.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    const [first, second] = refusedAtMs;
    assert.is(first!.replica, 'first');
    assert.is(second!.replica, 'second', 'then the next replica');
    // The pause is the renewal backoff's first step, 250 ms, up to half sooner for jitter.
    const pausedMs = second!.atMs - first!.atMs;
    assert.ok(pausedMs >= 120, `the next replica was asked ${pausedMs.toFixed(0)} ms after a leaderless refusal: no pause`);
  } finally {
    await loop.stop();
    client.close();
    for (const r of replicas) r.server.forceShutdown();
  }
});

test.run();
