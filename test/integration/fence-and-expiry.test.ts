import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { READY_MARKER } from '../../shared/eth/layouts/engine.js';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { KNOWN_NETWORKS } from '../../shared/eth/networks.js';
import { parseInterchange, watermarks } from '../../shared/eth/slashing-protection/index.js';
import { eventually, fetchAssignments, startCoordinatorProcess, writeSecrets } from '../support/coordinator-fixture.js';
import { scrape } from '../support/prometheus-text.js';
import { KeyleaseProcess, type LogRecord } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';
import { ValidatorClientStandin } from '../support/validator-client-standin.js';

const TTL_MS = 3000;
const timeOf = (r: LogRecord) => Date.parse(String(r['time']));

function startAgent(endpoint: string, podName: string, outDir: string, keys: number): KeyleaseProcess {
  return new KeyleaseProcess(['agent', '--coordinator', endpoint, '--pod-name', podName, '--keys', String(keys), '--layout', 'plain', '--out', outDir, '--health-listen', '127.0.0.1:0', '--log-level', 'debug']);
}

test('with the coordinator gone, the agent fences before the coordinator could have expired its lease', async () => {
  const dir = await tempDir('fence');
  const processes: KeyleaseProcess[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--lease-ttl-ms', String(TTL_MS)] });
    processes.push(coordinator.process);
    const outDir = join(dir.path, 'pod');
    const agent = startAgent(coordinator.grpcEndpoint, 'validator-0', outDir, 1);
    processes.push(agent);
    await agent.waitForMessage('keys claimed and written');
    await coordinator.process.waitForMessage('lease renewed');
    const started = await agent.waitForMessage('agent started');
    const healthPort = Number(String(started['health']).split(':').pop());
    const agentMetrics = () => scrape(`http://127.0.0.1:${healthPort}/metrics`);
    const holding = await eventually(async () => {
      const sample = await agentMetrics();
      return (sample('keylease_agent_renewals_total', { outcome: 'ok' }) ?? 0) >= 1 ? sample : undefined;
    }, 10_000, 'the agent counting its renewal');
    assert.is(holding('keylease_agent_phase', { phase: 'holding' }), 1);
    assert.is(holding('keylease_agent_keys_held'), 1);
    assert.is(holding('keylease_agent_claims_total', { outcome: 'granted' }), 1);
    const leaseId = String((await agent.waitForMessage('keys claimed and written'))['leaseId']);
    const deadline = holding('keylease_agent_fence_deadline_seconds', { lease: leaseId })!;
    assert.ok(deadline > 0 && deadline < TTL_MS / 1000, `the fence is ${deadline} s away, within the TTL`);

    const killedAt = Date.now();
    await coordinator.process.kill('SIGKILL');
    const renewals = coordinator.process.records.filter((r) => r.msg === 'lease renewed');
    const lastReceivedAt = timeOf(renewals[renewals.length - 1]!);
    // The fence that follows the coordinator's death (a slow first claim on a loaded machine may fence earlier).
    const fence = await agent.waitFor((r) => r.msg === 'fenced: keys removed' && timeOf(r) >= killedAt - 50, TTL_MS * 3, 'the fence after the coordinator died');
    const fencedAt = timeOf(fence);

    // The coordinator would expire TTL after the last renewal it received; the agent must be earlier.
    assert.ok(fencedAt < lastReceivedAt + TTL_MS, `fenced ${fencedAt - lastReceivedAt} ms after the last renewal was received; TTL is ${TTL_MS}`);
    console.log(`fence margin observed: ${lastReceivedAt + TTL_MS - fencedAt} ms before the earliest possible expiry`);
    assert.not.ok(existsSync(join(outDir, READY_MARKER)));
    assert.not.ok(existsSync(join(outDir, 'keystores')) && (await import('node:fs')).readdirSync(join(outDir, 'keystores')).length > 0, 'no keystore left');
    const fenced = await agentMetrics();
    assert.is(fenced('keylease_agent_fences_total', { cause: 'deadline' }), 1, 'the fence is counted with its cause');
    assert.is(fenced('keylease_agent_phase', { phase: 'fenced' }), 1);
    assert.is(fenced('keylease_agent_keys_held'), 0);
    assert.is(fenced('keylease_agent_fence_deadline_seconds', { lease: leaseId }), undefined, 'no lease, no deadline');
    const health = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    assert.is(health.status, 503, 'health endpoint turns red when fenced');
    const ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
    assert.is(ready.status, 503);
  } finally {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await dir.cleanup();
  }
});

/** A pod whose validator client (a stand-in) gets its keys through the Keymanager API. */
async function startKeymanagerPod(dir: string, endpoint: string, podName: string, keys: number): Promise<{ agent: KeyleaseProcess; client: ValidatorClientStandin }> {
  const client = await ValidatorClientStandin.start();
  const tokenFile = join(dir, `${podName}-api-token.txt`);
  await client.writeTokenFile(tokenFile);
  const agent = new KeyleaseProcess([
    'agent', '--coordinator', endpoint, '--pod-name', podName, '--keys', String(keys),
    '--keymanager-url', client.baseUrl, '--keymanager-token-file', tokenFile, '--health-listen', '127.0.0.1:0', '--log-level', 'debug',
  ]);
  return { agent, client };
}

interface QuarantineView {
  pools: Record<string, { unallocated: number; allocated: number; cooling: number; quarantined: number }>;
  pods: Array<{ podName: string }>;
  cooling: Array<{ pubKey: string; coolingUntilMs: number | null }>;
  quarantined: Array<{ pubKey: string; podName: string; leaseId: string; cause: string }>;
}
const assignmentsOf = async (httpBase: string) => (await fetchAssignments(httpBase)) as unknown as QuarantineView;

/** The slot a clock of genesis `genesisMs` and `slotMs` slots shows at `nowMs`. */
const slotAt = (nowMs: number, genesisMs: number, slotMs: number) => BigInt(Math.floor((nowMs - genesisMs) / slotMs));

test('a files-layout pod killed without release: its keys are quarantined, not handed to the next pod after cooling; its agent\'s word cannot free them; after the operator\'s release the next pod gets them with watermarks from the clock', async () => {
  const dir = await tempDir('expiry');
  const cleanup: Array<() => Promise<unknown>> = [];
  const coolingMs = 1500;
  try {
    const secrets = await writeSecrets(dir.path);
    const dataDir = join(dir.path, 'data');
    // A pool of exactly two keys on mainnet's slot clock, so the second pod can only get the first pod's keys.
    const coordinator = await startCoordinatorProcess({ dataDir, ...secrets, extra: ['--lease-ttl-ms', String(TTL_MS), '--cooling-ms', String(coolingMs), '--pool-max-keys', '2'] });
    cleanup.push(() => coordinator.process.kill('SIGKILL'));
    const first = startAgent(coordinator.grpcEndpoint, 'validator-a', join(dir.path, 'a'), 2);
    cleanup.push(() => first.kill('SIGKILL'));
    const firstClaim = await first.waitForMessage('keys claimed and written');
    const firstKeys = (JSON.parse(await readFile(join(dir.path, 'a', READY_MARKER), 'utf8')) as { pubKeys: string[] }).pubKeys.sort();
    // Killed: a client that read the files keeps signing with them, whatever happens to the files.
    await first.kill('SIGKILL');

    const second = await startKeymanagerPod(dir.path, coordinator.grpcEndpoint, 'validator-b', 2);
    cleanup.push(() => second.agent.kill('SIGKILL'), () => second.client.close());
    await second.agent.waitForMessage('waiting for free keys');
    const expired = await coordinator.process.waitForMessage('lease expired without renewal', TTL_MS * 3);
    assert.is(expired['quarantined'], 2);
    const quarantined = await assignmentsOf(coordinator.httpBase);
    assert.equal(quarantined.quarantined.map((k) => [k.pubKey, k.podName, k.leaseId, k.cause]).sort(), firstKeys.map((k) => [k, 'validator-a', firstClaim['leaseId'], 'files_mode']));
    assert.equal(quarantined.pools['default'], { unallocated: 0, allocated: 0, cooling: 0, quarantined: 2 });
    assert.equal(quarantined.cooling, [], 'nothing cools: cooling would hand the keys on while the killed pod\'s client may sign');

    // The next pod is still refused once the cooling time has long passed.
    await second.agent.waitFor((r) => r.msg === 'waiting for free keys' && timeOf(r) >= timeOf(expired) + coolingMs, 20_000, 'a refused claim after the cooling time');
    assert.not.ok(second.agent.records.some((r) => r.msg === 'keys claimed and written'));
    assert.equal(second.client.heldPubkeys(), []);

    // A files-layout pod's agent proves nothing by saying its files are gone.
    const coordinatorClient = new CoordinatorClient([coordinator.grpcEndpoint]);
    cleanup.push(async () => coordinatorClient.close());
    assert.equal((await coordinatorClient.reportRemoved('validator-a', firstKeys, null, 5000)).returned, []);
    assert.is((await assignmentsOf(coordinator.httpBase)).pools['default']!.quarantined, 2);

    // The operator has made sure validator-a can no longer sign, and releases its keys.
    const token = (await readFile(join(dataDir, 'api-token.txt'), 'utf8')).trim();
    const releasedAt = Date.now();
    const release = await fetch(`${coordinator.httpBase}/admin/quarantine/release`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pubkeys: firstKeys, confirm: 'the holders stopped signing' }),
    });
    assert.equal(await release.json(), { released: firstKeys });
    await second.agent.waitForMessage('keys claimed and written', 20_000);
    assert.equal(second.client.heldPubkeys(), firstKeys);
    // The killed pod's last watermarks are unknown: the next holder's start at the network's current slot and epoch.
    const imported = parseInterchange(second.client.importedInterchanges.at(-1)!);
    const slot = slotAt(releasedAt, KNOWN_NETWORKS.mainnet.genesisTime * 1000, 12_000);
    for (const pubKey of firstKeys) {
      const marks = watermarks(imported, pubKey);
      assert.ok(marks.maxBlockSlot !== null && marks.maxBlockSlot >= slot, `block watermark ${marks.maxBlockSlot} is at least mainnet's slot ${slot}`);
      assert.ok(marks.maxTargetEpoch !== null && marks.maxTargetEpoch >= slot / 32n, `target watermark ${marks.maxTargetEpoch} is at least epoch ${slot / 32n}`);
      assert.not.ok(second.client.sign(pubKey, { blockSlot: slot - 1n }), 'a block the killed pod could have signed is refused');
    }
  } finally {
    for (const step of cleanup.reverse()) await step();
    await dir.cleanup();
  }
});

test('a remote-signer lease that expires: its keys cool down (no quarantine), then go to the next pod with the watermarks its renewals carried and those of the clock', async () => {
  const dir = await tempDir('expiry-signer');
  const coolingMs = 1500;
  const genesisValidatorsRoot = '0x' + '5a'.repeat(32);
  // A custom network whose clock shows slot 1800 (epoch 450) at the start: 2 s slots, 4 per epoch.
  const genesisMs = (Math.floor(Date.now() / 1000) - 3600) * 1000;
  const secrets = await writeSecrets(dir.path);
  const coordinator = await startCoordinatorProcess({
    dataDir: join(dir.path, 'data'),
    ...secrets,
    extra: [
      '--lease-ttl-ms', '2000', '--cooling-ms', String(coolingMs), '--pool-max-keys', '1',
      '--genesis-validators-root', genesisValidatorsRoot, '--genesis-fork-version', '0x10000042', '--deposit-contract-address', '0x4242424242424242424242424242424242424242',
      '--genesis-time', String(genesisMs / 1000), '--seconds-per-slot', '2', '--slots-per-epoch', '4',
    ],
  });
  const client = new CoordinatorClient([coordinator.grpcEndpoint]);
  try {
    const lease = await client.claim('validator-s', 'default', 1, 30_000, 'signer');
    const pubKey = lease.keys[0]!.pubKey;
    assert.is(lease.genesisValidatorsRoot, genesisValidatorsRoot);
    // What the agent's signer signed so far travels with its renewal; then the agent dies.
    const signed = JSON.stringify({ metadata: { interchange_format_version: '5', genesis_validators_root: genesisValidatorsRoot }, data: [{ pubkey: pubKey, signed_blocks: [{ slot: '1000000' }], signed_attestations: [{ source_epoch: '1', target_epoch: '2' }] }] });
    await client.renew('validator-s', lease.leaseId, 5000, { slashingProtection: signed });

    const expired = await coordinator.process.waitFor((r) => r.msg === 'lease expired without renewal' && r['podName'] === 'validator-s', 10_000, 'the lease to expire');
    assert.is(expired['quarantined'], 0, 'a remote-signer agent signs nothing after its deadline: its keys are not quarantined');
    const cooling = await assignmentsOf(coordinator.httpBase);
    assert.equal(cooling.cooling.map((k) => k.pubKey), [pubKey]);
    assert.equal(cooling.quarantined, []);
    assert.equal(cooling.pools['default'], { unallocated: 0, allocated: 0, cooling: 1, quarantined: 0 });

    const asked = Date.now();
    const next = await eventually(() => client.claim('validator-t', 'default', 1, 5000, 'signer'), 10_000, 'the key to return after cooling');
    const answered = Date.now();
    const claimed = await coordinator.process.waitFor((r) => r.msg === 'keys claimed' && r['podName'] === 'validator-t', 5000, 'the claim in the coordinator\'s log');
    assert.ok(timeOf(claimed) >= Number(expired['coolingUntilMs']), `claimed ${Number(expired['coolingUntilMs']) - timeOf(claimed)} ms before the cooling ended`);
    assert.ok(Number(expired['coolingUntilMs']) >= timeOf(expired) + coolingMs - 50, 'the cooling lasts --cooling-ms from the expiry');
    assert.equal(next.keys.map((k) => k.pubKey), [pubKey]);
    const marks = watermarks(parseInterchange(next.keys[0]!.slashingProtection), pubKey);
    assert.is(marks.maxBlockSlot, 1_000_000n, 'the renewal\'s block watermark, above the clock\'s');
    assert.is(marks.maxSourceEpoch, 1n);
    const [lowest, highest] = [slotAt(asked, genesisMs, 2000) / 4n, (slotAt(answered, genesisMs, 2000) + 1n) / 4n];
    assert.ok(marks.maxTargetEpoch !== null && marks.maxTargetEpoch >= lowest && marks.maxTargetEpoch <= highest, `target watermark ${marks.maxTargetEpoch} is the clock's epoch (${lowest}..${highest}), above the renewal's 2`);
  } finally {
    client.close();
    await coordinator.process.kill('SIGKILL');
    await dir.cleanup();
  }
});

test.run();
