import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { KeyleaseProcess, type LogRecord } from '../support/processes.js';
import { freePorts } from '../support/ports.js';
import { attestationRequest, blockRequest, TEST_CHAIN } from '../support/signer-requests.js';
import { tempDir } from '../support/temp-dir.js';

const TTL_MS = 3000;
const SLOT_SECONDS = 2;
const SLOTS_PER_EPOCH = 8;
/** Genesis 200 s ago: the clock's slot is about 100, epoch about 12. */
const GENESIS_TIME = Math.floor(Date.now() / 1000) - 200;
const timeOf = (r: LogRecord) => Date.parse(String(r['time']));

/** A coordinator on the signer tests' chain (minimal preset), with a pool of exactly one key. */
function networkFlags(): string[] {
  return [
    '--genesis-validators-root', TEST_CHAIN.genesisValidatorsRoot,
    '--genesis-fork-version', TEST_CHAIN.genesisForkVersion,
    '--deposit-contract-address', '0x4242424242424242424242424242424242424242',
    '--genesis-time', String(GENESIS_TIME),
    '--seconds-per-slot', String(SLOT_SECONDS),
    '--slots-per-epoch', String(SLOTS_PER_EPOCH),
    '--lease-ttl-ms', String(TTL_MS),
    '--pool-max-keys', '1',
    '--cooling-ms', '500',
  ];
}

function startSignerAgent(endpoint: string, podName: string, signerPort: number, stateDir: string): KeyleaseProcess {
  return new KeyleaseProcess([
    'agent', '--coordinator', endpoint, '--pod-name', podName, '--keys', '1',
    '--signer-listen', `127.0.0.1:${signerPort}`, '--signer-state-dir', stateDir, '--signer-preset', TEST_CHAIN.preset,
    '--health-listen', '127.0.0.1:0', '--log-level', 'debug',
  ]);
}

async function sign(signerPort: number, pubKey: string, body: unknown): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${signerPort}/api/v1/eth2/sign/${pubKey}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, text: await response.text() };
}

async function heldKey(signerPort: number): Promise<string> {
  const keys = (await (await fetch(`http://127.0.0.1:${signerPort}/api/v1/eth2/publicKeys`)).json()) as string[];
  assert.is(keys.length, 1, 'the signer serves the one claimed key');
  return keys[0]!;
}

test('signer mode: signs, refuses the slashable, reports watermarks with renewals; a SIGKILLed agent signs nothing; the key returns to the next pod with watermarks from its renewals and the clock', async () => {
  const dir = await tempDir('signer');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: networkFlags() });
    processes.push(coordinator.process);
    const [portA, portB] = await freePorts(2);
    const agentA = startSignerAgent(coordinator.grpcEndpoint, 'validator-a', portA!, join(dir.path, 'state-a'));
    processes.push(agentA);
    await agentA.waitForMessage('keys claimed and written', 30_000);
    const pubKey = await heldKey(portA!);

    const attested = await sign(portA!, pubKey, attestationRequest(3, 5));
    assert.is(attested.status, 200, `attestation signed: ${attested.text}`);
    assert.match(JSON.parse(attested.text).signature, /^0x[0-9a-f]{192}$/);
    assert.is((await sign(portA!, pubKey, blockRequest(7))).status, 200, 'block signed');
    const again = await sign(portA!, pubKey, attestationRequest(3, 5));
    assert.is(again.status, 412, 'the same target again is slashable: refused like Web3Signer');
    const signedAt = Date.now();
    // A renewal sent after the signatures carries their watermarks to the leader.
    await agentA.waitFor((r) => r.msg === 'lease renewed' && timeOf(r) > signedAt + 50, TTL_MS * 2, 'a renewal after signing');

    await agentA.kill('SIGKILL');
    const dead = await fetch(`http://127.0.0.1:${portA}/upcheck`).then(() => 'answered', () => 'refused');
    assert.is(dead, 'refused', 'a dead agent signs nothing');

    // The lease expires (signer mode: the agent stopped signing at its deadline), the key cools, B gets it.
    const agentB = startSignerAgent(coordinator.grpcEndpoint, 'validator-b', portB!, join(dir.path, 'state-b'));
    processes.push(agentB);
    await agentB.waitForMessage('keys claimed and written', TTL_MS * 5);
    assert.is(await heldKey(portB!), pubKey, 'the same key, after expiry and cooling');
    const expiry = await coordinator.process.waitForMessage('lease expired without renewal');
    assert.is(expiry['quarantined'], 0, 'a remote-signer lease ending unrenewed is proven stopped: no quarantine');

    // Watermarks from the renewal (source 3) and the clock (slot and epoch now) travel with the key.
    const repeat = await sign(portB!, pubKey, attestationRequest(3, 5));
    assert.is(repeat.status, 412, 'B refuses what A signed');
    const token = (await readFile(join(dir.path, 'data', 'api-token.txt'), 'utf8')).trim();
    const exported = (await (await fetch(`${coordinator.httpBase}/slashing-protection?pubkey=${pubKey}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      data: Array<{ signed_blocks: Array<{ slot: string }>; signed_attestations: Array<{ source_epoch: string; target_epoch: string }> }>;
    };
    const clockSlot = Math.floor((Date.now() / 1000 - GENESIS_TIME) / SLOT_SECONDS);
    const record = exported.data[0]!;
    assert.is(record.signed_attestations[0]!.source_epoch, '3', 'the source watermark came with a renewal');
    assert.ok(Number(record.signed_blocks[0]!.slot) >= clockSlot - 2, `block watermark ${record.signed_blocks[0]!.slot} raised to the clock's slot (~${clockSlot})`);
    assert.ok(Number(record.signed_attestations[0]!.target_epoch) >= Math.floor((clockSlot - 2) / SLOTS_PER_EPOCH), 'target watermark raised to the clock\'s epoch');
    const stale = await sign(portB!, pubKey, blockRequest(clockSlot - 3));
    assert.is(stale.status, 412, 'a block at a slot A could have signed is refused');
    const fresh = await sign(portB!, pubKey, blockRequest(clockSlot + 20));
    assert.is(fresh.status, 200, `a later block is signed: ${fresh.text}`);
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test('signer mode: with the coordinator gone, the signer stops signing before the lease could expire', async () => {
  const dir = await tempDir('signer-stop');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: networkFlags() });
    processes.push(coordinator.process);
    const [port] = await freePorts(1);
    const agent = startSignerAgent(coordinator.grpcEndpoint, 'validator-a', port!, join(dir.path, 'state'));
    processes.push(agent);
    await agent.waitForMessage('keys claimed and written', 30_000);
    await coordinator.process.waitForMessage('lease renewed');
    const pubKey = await heldKey(port!);

    await coordinator.process.kill('SIGKILL');
    const renewals = coordinator.process.records.filter((r) => r.msg === 'lease renewed');
    const lastReceivedAt = timeOf(renewals[renewals.length - 1]!);
    // One new target per request: every refusal below is the deadline's, never slashing protection's.
    let target = 20;
    let lastSignedAt = 0;
    const refusedAt = await eventually(async () => {
      target++;
      const answer = await sign(port!, pubKey, attestationRequest(10, target));
      if (answer.status === 200) lastSignedAt = Date.now();
      else return { at: Date.now(), status: answer.status };
      return undefined;
    }, TTL_MS * 3, 'the signer refusing');
    assert.ok(refusedAt.status === 503 || refusedAt.status === 404, `refused with ${refusedAt.status}`);
    assert.ok(lastSignedAt < lastReceivedAt + TTL_MS, `the last signature came ${lastSignedAt - lastReceivedAt} ms after the last renewal was received; the lease lives ${TTL_MS} ms`);
    console.log(`signing stopped ${lastReceivedAt + TTL_MS - lastSignedAt} ms before the earliest possible expiry (last signature ${lastSignedAt - lastReceivedAt} ms after the last renewal received)`);
    const health = await agent.waitForMessage('fenced: keys removed', TTL_MS * 2);
    assert.ok(health, 'the agent fenced');
    const keysAfter = (await (await fetch(`http://127.0.0.1:${port}/api/v1/eth2/publicKeys`)).json()) as string[];
    assert.equal(keysAfter, [], 'the fenced signer holds no key');
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

test.run();
