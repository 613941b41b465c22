import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { LeaseLoop } from '../../agent/lease-loop.js';
import { systemClock } from '../../shared/clock/clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { keyleaseProto } from '../../shared/proto/load.js';
import { InMemoryValidator } from '../support/fleet.js';

const RETRY_AFTER_MS = 600;

test('a claim refused as busy is sent again when the leader said, not on the agent\'s own backoff', async () => {
  // A leader that is busy at the first claim and names when to come back, with the trailers the coordinator sends.
  const claimsAtMs: number[] = [];
  const server = new grpc.Server();
  server.addService(keyleaseProto().keylease.v1.Allocation.service, {
    Claim: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => {
      claimsAtMs.push(performance.now());
      if (claimsAtMs.length === 1) {
        const metadata = new grpc.Metadata();
        metadata.set('keylease-refusal-code', 'COORDINATOR_BUSY');
        metadata.set('keylease-not-applied', '1');
        metadata.set('keylease-retry-after-ms', String(RETRY_AFTER_MS));
        done({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'busy: retry the claim in about 1 s', metadata });
        return;
      }
      done(null, { leaseId: 'lease-1', leaseTtlMs: 60_000, genesisValidatorsRoot: `0x${'00'.repeat(32)}`, genesisForkVersion: '0x00000000', keys: [{ pubKey: `0x${'a1'.repeat(48)}`, keystoreJson: '{}', keystorePassword: 'pw', slashingProtection: '' }] });
    },
    Release: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => done(null, { quarantined: [] }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const client = new CoordinatorClient([`127.0.0.1:${port}`]);
  const loop = new LeaseLoop({ podName: 'validator-0', pool: 'default', keyCount: 1, holder: new InMemoryValidator(), signingMode: 'signer', client, clock: systemClock, logger: silentLogger, fenceMarginMs: 0, requestTimeoutMs: 5000 });
  try {
    const holding = new Promise<void>((resolve) => loop.onPhase((phase) => phase === 'holding' && resolve()));
    void loop.start();
    await holding;
    assert.is(claimsAtMs.length, 2);
    const waitedMs = claimsAtMs[1]! - claimsAtMs[0]!;
    // The agent's own first backoff is 125-250 ms; told 600 ms, it waits that and up to a tenth more.
    assert.ok(waitedMs >= RETRY_AFTER_MS, `claimed again after ${waitedMs.toFixed(0)} ms, before the ${RETRY_AFTER_MS} ms the leader asked for`);
  } finally {
    await loop.stop();
    client.close();
    server.forceShutdown();
  }
});

test.run();
