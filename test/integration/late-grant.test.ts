import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as grpc from '@grpc/grpc-js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import type { GrantedKey, KeyHolder } from '../../agent/key-holders.js';
import { LeaseLoop, type AgentPhase } from '../../agent/lease-loop.js';
import type { FenceCause } from '../../agent/lease-observer.js';
import { systemClock } from '../../shared/clock/clock.js';
import { silentLogger } from '../../shared/log/logger.js';
import { keyleaseProto, type RenewRequest__Output } from '../../shared/proto/load.js';

const TTL_MS = 3000;
/** The agent's deadline is TTL less a 1 s margin after the claim was sent: the grant comes after it. */
const CLAIM_ANSWER_DELAY_MS = 2400;

/** The signer's view: the keys it holds and the deadline past which it signs nothing, as set over time. */
class RecordingSigner implements KeyHolder {
  readonly name = 'recording signer';
  readonly deadlines: Array<{ deadlineMs: number | null; setAtMs: number }> = [];
  installedAtMs: number | null = null;
  async install(_keys: readonly GrantedKey[]): Promise<void> {
    this.installedAtMs = performance.now();
  }
  async removeAll(): Promise<{ slashingProtection: string | null; pubKeys: readonly string[] }> {
    return { slashingProtection: null, pubKeys: [] };
  }
  setDeadline(deadlineMs: number | null): void {
    this.deadlines.push({ deadlineMs, setAtMs: performance.now() });
  }
  /** Could it sign at `atMs`, by the deadline last set before then? */
  mayHaveSignedAt(atMs: number): boolean {
    const last = this.deadlines.filter((d) => d.setAtMs <= atMs).at(-1);
    return last !== undefined && last.deadlineMs !== null && atMs < last.deadlineMs;
  }
}

/** A leader slow to grant (it answers the claim after the agent's deadline), that then renews as told. */
async function slowLeader(renewal: 'renews' | 'forgot the lease') {
  const renewals: RenewRequest__Output[] = [];
  const server = new grpc.Server();
  server.addService(keyleaseProto().keylease.v1.Allocation.service, {
    Claim: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => {
      setTimeout(() => done(null, { leaseId: 'lease-1', leaseTtlMs: TTL_MS, genesisValidatorsRoot: `0x${'00'.repeat(32)}`, genesisForkVersion: '0x00000000', keys: [{ pubKey: `0x${'a1'.repeat(48)}`, keystoreJson: '{}', keystorePassword: 'pw', slashingProtection: '' }] }), CLAIM_ANSWER_DELAY_MS);
    },
    RenewStream: (call: grpc.ServerDuplexStream<RenewRequest__Output, unknown>) => {
      call.on('data', (request: RenewRequest__Output) => {
        renewals.push(request);
        if (renewal === 'renews') call.write({ leaseTtlMs: TTL_MS, protectionVersion: '', sequence: request.sequence });
        else {
          const metadata = new grpc.Metadata();
          metadata.set('keylease-refusal-code', 'LEASE_NOT_FOUND');
          call.emit('error', { code: grpc.status.NOT_FOUND, details: 'pod validator-0 holds no live lease lease-1', metadata });
        }
      });
      call.on('end', () => call.end());
    },
    Release: (_call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => done(null, { quarantined: [] }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  return { server, endpoint: `127.0.0.1:${port}`, renewals };
}

function agentAt(endpoint: string, signer: RecordingSigner) {
  const client = new CoordinatorClient([endpoint]);
  const phases: AgentPhase[] = [];
  const fences: FenceCause[] = [];
  const loop = new LeaseLoop({
    podName: 'validator-0', pool: 'default', keyCount: 1, holder: signer, signingMode: 'signer', client, clock: systemClock, logger: silentLogger, fenceMarginMs: 0, requestTimeoutMs: 10_000,
    observer: { onClaim: () => {}, onRenewal: () => {}, onFence: (cause) => fences.push(cause) },
  });
  loop.onPhase((phase) => phases.push(phase));
  return { client, loop, phases, fences };
}

test('in signer mode a grant that came after its deadline is held silent until a renewal confirms it, not given back', async () => {
  const leader = await slowLeader('renews');
  const signer = new RecordingSigner();
  const { client, loop, phases, fences } = agentAt(leader.endpoint, signer);
  try {
    const holding = new Promise<void>((resolve) => loop.onPhase((phase) => phase === 'holding' && resolve()));
    void loop.start();
    await holding;
    assert.is(leader.renewals.length, 1, 'one renewal confirmed the grant');
    assert.equal(fences, [], 'nothing was given back');
    assert.equal(phases, ['holding']);
    // From the moment the keys were in until the renewal's answer, the signer's deadline had passed.
    const installedAtMs = signer.installedAtMs!;
    assert.not.ok(signer.mayHaveSignedAt(installedAtMs), 'the signer could sign a late grant before any renewal');
    const confirmed = signer.deadlines.at(-1)!;
    assert.ok(confirmed.deadlineMs! > confirmed.setAtMs, 'the renewal set a deadline ahead');
  } finally {
    await loop.stop();
    client.close();
    leader.server.forceShutdown();
  }
});

test('in signer mode a late grant that no renewal confirms is fenced and given back, having signed nothing', async () => {
  const leader = await slowLeader('forgot the lease');
  const signer = new RecordingSigner();
  const { client, loop, fences } = agentAt(leader.endpoint, signer);
  try {
    const fenced = new Promise<void>((resolve) => loop.onPhase((phase) => phase === 'fenced' && resolve()));
    void loop.start();
    await fenced;
    assert.equal(fences, ['install_slow']);
    assert.is(leader.renewals.length, 1);
    assert.ok(signer.deadlines.every((d) => d.deadlineMs === null || d.deadlineMs <= d.setAtMs), 'no deadline ahead was ever set: nothing could sign');
  } finally {
    await loop.stop();
    client.close();
    leader.server.forceShutdown();
  }
});

test.run();
