import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorClient, type ClaimedKeys } from '../../agent/coordinator-client.js';
import { deriveSigningKey, mnemonicToSeed, pubKeyHex } from '../../coordinator/keys/derive.js';
import { parseInterchange, watermarks } from '../../shared/eth/slashing-protection/index.js';
import { BeaconStandIn } from '../support/beacon-standin.js';
import { eventually, startCoordinatorProcess, TEST_MNEMONIC, writeSecrets, type StartedCoordinator } from '../support/coordinator-fixture.js';
import { coordinatorDepositFlags, depositEventsByKey, startTestChain, type TestChain } from '../support/evm.js';
import { KeyleaseProcess, runKeylease } from '../support/processes.js';
import { tempDir } from '../support/temp-dir.js';

const seed = mnemonicToSeed(TEST_MNEMONIC);
const pubKeyAt = (index: number) => {
  const key = deriveSigningKey(seed, index);
  key.privKey.fill(0);
  return pubKeyHex(key.pubKey);
};

/** Claims until granted: a pool that deposits answers AWAITING_DEPOSITS until the new keys' deposits confirm. */
function claimGranted(client: CoordinatorClient, podName: string, count: number): Promise<ClaimedKeys> {
  return eventually(() => client.claim(podName, 'default', count, 10_000), 60_000, `${podName}'s claim to be granted`);
}

async function adminGet(coordinator: StartedCoordinator, dataDir: string, path: string): Promise<any> {
  const token = (await readFile(join(dataDir, 'api-token.txt'), 'utf8')).trim();
  const response = await fetch(`${coordinator.httpBase}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return response.json();
}

async function startDepositing(chain: TestChain, dir: string, name: string, secrets: { kekFile: string; mnemonicFile: string }, extra: string[]): Promise<{ coordinator: StartedCoordinator; dataDir: string; client: CoordinatorClient }> {
  const fundingKeyFile = join(dir, 'funding.key');
  await writeFile(fundingKeyFile, chain.chain.fundingPrivKey, { mode: 0o600 });
  const dataDir = join(dir, name);
  const coordinator = await startCoordinatorProcess({ dataDir, ...secrets, extra: [...coordinatorDepositFlags(chain, chain.chain.rpcUrl, fundingKeyFile), ...extra] });
  return { coordinator, dataDir, client: new CoordinatorClient([coordinator.grpcEndpoint]) };
}

test('restore onto a fresh data dir: keys in use on chain are found, paid for by nobody, handed out to no one; an operator frees them with their protection or a confirmation', async () => {
  const dir = await tempDir('restore');
  const chain = await startTestChain();
  const processes: KeyleaseProcess[] = [];
  const clients: CoordinatorClient[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    // The first pool derives, deposits and hands out two keys; their pod keeps signing with them.
    const first = await startDepositing(chain, dir.path, 'first', secrets, ['--restore-gap', '3']);
    processes.push(first.coordinator.process);
    clients.push(first.client);
    const signingElsewhere = (await claimGranted(first.client, 'pod-a', 2)).keys.map((k) => k.pubKey).sort();
    assert.equal(signingElsewhere, [pubKeyAt(0), pubKeyAt(1)].sort());
    const before = await chain.activity();

    // The same mnemonic on a fresh data dir, against the same chain.
    const second = await startDepositing(chain, dir.path, 'second', secrets, ['--restore-gap', '3']);
    processes.push(second.coordinator.process);
    clients.push(second.client);
    const restored = await second.coordinator.process.waitFor((r) => String(r.msg).startsWith('restore scan: keys in use on chain entered the pool as foreign'), 30_000, 'the restore scan');
    assert.is(restored['keys'], 2);
    assert.is(restored['nextDerivationIndex'], 2);
    const progress = second.coordinator.process.records.filter((r) => r.msg === 'restore scan progress');
    assert.ok(progress.length >= 2, 'progress is shown window by window');
    assert.equal(progress.map((r) => r['foundOnChain']), [...progress.map((r) => r['foundOnChain'])].sort(), 'the count only grows');

    const granted = (await claimGranted(second.client, 'pod-b', 2)).keys.map((k) => k.pubKey).sort();
    assert.equal(granted, [pubKeyAt(2), pubKeyAt(3)].sort(), 'the second pool hands out keys past the ones in use');
    const after = await chain.activity();
    assert.is(after.depositCount - before.depositCount, 2, 'the second pool paid only for its two new keys');
    const events = await depositEventsByKey(chain);
    assert.is(events.size, 4);
    for (const [pubKey, count] of events) assert.is(count, 1, `one deposit for ${pubKey}`);

    const foreign = await adminGet(second.coordinator, second.dataDir, '/foreign-keys');
    assert.equal(foreign.data.map((k: { pubkey: string }) => k.pubkey).sort(), signingElsewhere);
    assert.ok(foreign.data.every((k: { deposit_tx_hash: string | null; deposit_block_number: number | null }) => /^0x[0-9a-f]{64}$/.test(k.deposit_tx_hash!) && k.deposit_block_number! > 0));
    const metrics = await (await fetch(`${second.coordinator.httpBase}/metrics`)).text();
    assert.match(metrics, /keylease_foreign_keys\{pool="default"\} 2/);
    const refused = await second.client.claim('pod-c', 'default', 1, 10_000).then(() => null, (error: { refusalCode?: string }) => error.refusalCode);
    assert.is(refused, 'AWAITING_DEPOSITS', 'the foreign keys are not free: another claim derives (and waits for) a key of its own');
    assert.equal((await claimGranted(second.client, 'pod-c', 1)).keys.map((k) => k.pubKey), [pubKeyAt(4)], 'and gets it once its deposit confirms');
    const paid = (await chain.activity()).depositCount;

    // The first pool's pod stops; the operator brings its slashing protection over for one key and vouches for the other.
    await first.coordinator.process.kill('SIGKILL');
    const interchangeFile = join(dir.path, 'pod-a-protection.json');
    await writeFile(interchangeFile, JSON.stringify({
      metadata: { interchange_format_version: '5', genesis_validators_root: chain.chain.network.genesisValidatorsRoot },
      data: [{ pubkey: signingElsewhere[0], signed_blocks: [{ slot: '4242' }], signed_attestations: [{ source_epoch: '100', target_epoch: '101' }] }],
    }));
    const adminFlags = ['--http', second.coordinator.httpBase, '--token-file', join(second.dataDir, 'api-token.txt')];
    const imported = await runKeylease(['pool', 'import-protection', ...adminFlags, '--file', interchangeFile]);
    assert.is(imported.code, 0, imported.output);
    assert.match(imported.output, new RegExp(`${signingElsewhere[0]}  raised  block slot 4242, source epoch 100, target epoch 101  \\(was foreign: may be handed out\\)`));
    const confirmed = await runKeylease(['pool', 'confirm-foreign', ...adminFlags, '--pubkeys', signingElsewhere[1]!]);
    assert.is(confirmed.code, 0, confirmed.output);
    assert.match((await runKeylease(['pool', 'foreign', ...adminFlags])).output, /no foreign keys/);

    const reused = await claimGranted(second.client, 'pod-d', 2);
    assert.equal(reused.keys.map((k) => k.pubKey).sort(), signingElsewhere, 'freed by the operator, the keys are handed out');
    const withProtection = reused.keys.find((k) => k.pubKey === signingElsewhere[0])!;
    assert.is(watermarks(parseInterchange(withProtection.slashingProtection), signingElsewhere[0]!).maxBlockSlot, 4242n, 'with the protection the operator imported');
    assert.is((await chain.activity()).depositCount, paid, 'and nothing was paid for them');
    for (const pubKey of signingElsewhere) assert.is((await depositEventsByKey(chain)).get(pubKey), 1, `still one deposit for ${pubKey}`);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await chain.close();
    await dir.cleanup();
  }
});

test('without a restore scan, a derived key already deposited is recorded instead of paid, and not handed out', async () => {
  const dir = await tempDir('restore-prepay');
  const chain = await startTestChain();
  const processes: KeyleaseProcess[] = [];
  const clients: CoordinatorClient[] = [];
  try {
    const secrets = await writeSecrets(dir.path);
    const first = await startDepositing(chain, dir.path, 'first', secrets, ['--restore-gap', '0']);
    processes.push(first.coordinator.process);
    clients.push(first.client);
    const signingElsewhere = (await claimGranted(first.client, 'pod-a', 1)).keys.map((k) => k.pubKey);
    const before = await chain.activity();

    const second = await startDepositing(chain, dir.path, 'second', secrets, ['--restore-gap', '0']);
    processes.push(second.coordinator.process);
    clients.push(second.client);
    const granted = (await claimGranted(second.client, 'pod-b', 1)).keys.map((k) => k.pubKey);
    assert.equal(granted, [pubKeyAt(1)], 'key 0 was found deposited; the claim got the next key');
    const found = second.coordinator.process.records.filter((r) => String(r.msg).startsWith('key already deposited on chain'));
    assert.equal(found.map((r) => r['pubKey']), signingElsewhere);
    assert.is((await chain.activity()).depositCount - before.depositCount, 1, 'one deposit: for the new key only');
    for (const [pubKey, count] of await depositEventsByKey(chain)) assert.is(count, 1, `one deposit for ${pubKey}`);
  } finally {
    for (const client of clients) client.close();
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await chain.close();
    await dir.cleanup();
  }
});

test('a beacon node that knows a derived key as a validator makes it foreign, in a pool that deposits nothing itself', async () => {
  const dir = await tempDir('restore-beacon');
  const beacon = await BeaconStandIn.start();
  const client = { current: null as CoordinatorClient | null };
  let coordinator: StartedCoordinator | null = null;
  try {
    beacon.validators.set(pubKeyAt(1), 'active_ongoing');
    const secrets = await writeSecrets(dir.path);
    const dataDir = join(dir.path, 'data');
    coordinator = await startCoordinatorProcess({ dataDir, ...secrets, extra: ['--beacon-url', beacon.url, '--restore-gap', '3'] });
    const restored = await coordinator.process.waitFor((r) => String(r.msg).startsWith('restore scan: keys in use on chain entered the pool as foreign'), 30_000, 'the restore scan');
    assert.equal([restored['keys'], restored['nextDerivationIndex']], [1, 2]);
    assert.equal([...beacon.asked].sort(), [0, 1, 2, 3, 4].map(pubKeyAt).sort(), 'indices looked up once each, until three in a row were unseen');
    client.current = new CoordinatorClient([coordinator.grpcEndpoint]);
    const granted = await client.current.claim('pod-a', 'default', 2, 10_000);
    assert.equal(granted.keys.map((k) => k.pubKey), [pubKeyAt(2), pubKeyAt(3)], 'derivation continues after the last key in use');
    const foreign = await adminGet(coordinator, dataDir, '/foreign-keys');
    assert.equal(foreign.data.map((k: { pubkey: string; beacon_status: string }) => [k.pubkey, k.beacon_status]), [[pubKeyAt(1), 'active_ongoing']]);
  } finally {
    client.current?.close();
    await coordinator?.process.kill('SIGKILL');
    await beacon.close();
    await dir.cleanup();
  }
});

test.run();
