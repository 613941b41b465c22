import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { COORDINATOR_COMMAND, coordinatorConfig } from '../../coordinator/config.js';
import { startCoordinator } from '../../coordinator/coordinator.js';
import { deriveSigningKey, mnemonicToSeed, pubKeyHex } from '../../coordinator/keys/derive.js';
import { parseFlags } from '../../shared/cli/flags.js';
import { encryptKeystore } from '../../shared/eth/keystore.js';
import { KNOWN_NETWORKS } from '../../shared/eth/networks.js';
import { parseInterchange, watermarks } from '../../shared/eth/slashing-protection/index.js';
import { silentLogger } from '../../shared/log/logger.js';
import { eventually, writeSecrets } from '../support/coordinator-fixture.js';
import { tempDir } from '../support/temp-dir.js';

const GVR = KNOWN_NETWORKS.mainnet.genesisValidatorsRoot;
const interchange = (root: string, pubkey: string, slot: string) =>
  JSON.stringify({ metadata: { interchange_format_version: '5', genesis_validators_root: root }, data: [{ pubkey, signed_blocks: [{ slot }], signed_attestations: [{ source_epoch: '7', target_epoch: '8' }] }] });

test('the coordinator\'s Keymanager API imports, lists and deletes pool keys with their slashing protection; a key quarantined by an unproven release leaves only by the operator\'s confirmed release, with clock watermarks', async () => {
  const dir = await tempDir('km-admin');
  const secrets = await writeSecrets(dir.path);
  const dataDir = join(dir.path, 'data');
  // No mnemonic: the pool holds only what is imported.
  const values = parseFlags(COORDINATOR_COMMAND, ['--data-dir', dataDir, '--kek-file', secrets.kekFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], {});
  const coordinator = await startCoordinator(coordinatorConfig(values), silentLogger);
  const base = `http://127.0.0.1:${coordinator.httpPort}/eth/v1/keystores`;
  const token = (await readFile(join(dataDir, 'api-token.txt'), 'utf8')).trim();
  const call = async (method: string, body?: unknown, auth = `Bearer ${token}`) => {
    const response = await fetch(base, { method, headers: { authorization: auth, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: response.status, body: (await response.json()) as any };
  };
  const agentClient = new CoordinatorClient([`127.0.0.1:${coordinator.grpcPort}`]);
  try {
    const seed = mnemonicToSeed('legal winner thank year wave sausage worth useful legal winner thank yellow');
    const keys = [0, 1, 2].map((i) => deriveSigningKey(seed, i));
    const pubKeys = keys.map((k) => pubKeyHex(k.pubKey));
    const keystores = await Promise.all(keys.map(async (k) => JSON.stringify(await encryptKeystore('pw', k.privKey, k.pubKey, k.path))));

    assert.is((await call('GET', undefined, '')).status, 401);
    assert.is((await call('GET', undefined, 'Bearer wrong')).status, 403);

    const foreign = await call('POST', { keystores: keystores.slice(0, 2), passwords: ['pw', 'pw'], slashing_protection: interchange('0x' + '33'.repeat(32), pubKeys[0]!, '50') });
    assert.is(foreign.status, 400);
    assert.match(foreign.body.message, /genesis/);
    assert.equal((await call('GET')).body.data, [], 'a refused import imports nothing');

    const imported = await call('POST', { keystores, passwords: ['pw', 'pw', 'not-the-password'], slashing_protection: interchange(GVR, pubKeys[0]!, '50') });
    assert.is(imported.status, 200);
    assert.equal(imported.body.data.map((d: { status: string }) => d.status), ['imported', 'imported', 'error']);
    assert.match(imported.body.data[2].message, /does not decrypt/);
    assert.not.match(JSON.stringify(imported.body), /not-the-password/);
    const again = await call('POST', { keystores: keystores.slice(0, 1), passwords: ['pw'] });
    assert.equal(again.body.data, [{ status: 'duplicate' }]);

    const listed = (await call('GET')).body.data as Array<{ validating_pubkey: string; derivation_path: string; readonly: boolean; keylease: { state: string } }>;
    assert.equal(listed.map((k) => k.validating_pubkey).sort(), pubKeys.slice(0, 2).sort());
    assert.ok(listed.every((k) => k.readonly === false && k.keylease.state === 'unallocated' && k.derivation_path.startsWith('m/12381/3600/')));

    // A pod gets the key with the protection that came with the import.
    const lease = await agentClient.claim('validator-a', 'default', 2, 30_000, 'keymanager');
    const first = lease.keys.find((k) => k.pubKey === pubKeys[0])!;
    assert.is(watermarks(parseInterchange(first.slashingProtection), pubKeys[0]!).maxBlockSlot, 50n);
    await agentClient.release('validator-a', lease.leaseId, 5000, { slashingProtection: interchange(GVR, pubKeys[1]!, '60') });
    // pubKeys[1] came back with protection (free); pubKeys[0] came back without: nothing proves its client stopped signing.
    const removed = await call('DELETE', { pubkeys: [pubKeys[1], pubKeys[0], '0x' + 'cd'.repeat(48)] });
    assert.equal(removed.body.data.map((d: { status: string }) => d.status), ['deleted', 'error', 'not_found']);
    assert.match(removed.body.data[1].message, /quarantined/);
    assert.is(watermarks(parseInterchange(removed.body.slashing_protection), pubKeys[1]!).maxBlockSlot, 60n, 'the deleted key\'s protection comes back');
    assert.equal((await call('GET')).body.data.map((k: { validating_pubkey: string; keylease: { state: string } }) => [k.validating_pubkey, k.keylease.state]), [[pubKeys[0], 'quarantined']]);

    const exported = await fetch(`http://127.0.0.1:${coordinator.httpPort}/slashing-protection`, { headers: { authorization: `Bearer ${token}` } });
    const pool = parseInterchange(await exported.json());
    assert.is(pool.metadata.genesisValidatorsRoot, GVR);
    assert.is(watermarks(pool, pubKeys[0]!).maxBlockSlot, 50n, 'the pool exports what it knows per key');
    const metrics = await (await fetch(`http://127.0.0.1:${coordinator.httpPort}/metrics`)).text();
    assert.match(metrics, /keylease_keys\{pool="default",state="quarantined"\} 1\n/);
    assert.match(metrics, /keylease_keys\{pool="default",state="cooling"\} 0\n/, 'a release never cools');
    assert.not.match(metrics, /keylease_cooling_keys_next_return_timestamp_seconds\{/);

    // The operator's view of quarantine, and the deliberate release: admin token, exact confirmation, all or nothing.
    const quarantine = async (method: string, path: string, body?: unknown, auth = `Bearer ${token}`) => {
      const response = await fetch(`http://127.0.0.1:${coordinator.httpPort}/admin/quarantine${path}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: response.status, body: (await response.json()) as any };
    };
    assert.is((await quarantine('GET', '', undefined, '')).status, 401);
    assert.is((await quarantine('GET', '', undefined, 'Bearer wrong')).status, 403);
    assert.is((await quarantine('POST', '/release', { pubkeys: [pubKeys[0]], confirm: 'the holders stopped signing' }, 'Bearer wrong')).status, 403);
    const listedQuarantine = (await quarantine('GET', '')).body.data as Array<{ pubKey: string; podName: string; leaseId: string; cause: string }>;
    assert.equal(listedQuarantine.map(({ pubKey, podName, leaseId, cause }) => ({ pubKey, podName, leaseId, cause })), [{ pubKey: pubKeys[0], podName: 'validator-a', leaseId: lease.leaseId, cause: 'unproven_release' }]);
    const refusals: Array<[unknown, number, RegExp]> = [
      [{ pubkeys: [pubKeys[0]] }, 400, /confirm must be "the holders stopped signing"/],
      [{ pubkeys: [pubKeys[0]], confirm: 'yes' }, 400, /confirm must be/],
      [{ pubkeys: ['0x1234'], confirm: 'the holders stopped signing' }, 400, /48-byte public keys/],
      [{ pubkeys: [], confirm: 'the holders stopped signing' }, 400, /non-empty/],
      [{ pubkeys: [pubKeys[0], pubKeys[1]], confirm: 'the holders stopped signing' }, 404, new RegExp(`not quarantined.*${pubKeys[1]}.*nothing was released`)],
    ];
    for (const [body, status, message] of refusals) {
      const answer = await quarantine('POST', '/release', body);
      assert.is(answer.status, status, JSON.stringify(body));
      assert.match(answer.body.message, message);
      assert.is((await quarantine('GET', '')).body.data.length, 1, 'a refused release changes nothing');
    }
    assert.is((await quarantine('GET', '/release')).status, 405);
    const releasedAt = Date.now();
    const releasedQuarantine = await quarantine('POST', '/release', { pubkeys: [pubKeys[0]!.toUpperCase().replace('0X', '0x')], confirm: 'the holders stopped signing' });
    assert.equal(releasedQuarantine, { status: 200, body: { released: [pubKeys[0]] } });
    assert.equal((await quarantine('GET', '')).body.data, []);
    // Its last holder's final watermarks are unknown: the next holder gets them from the clock (S8).
    const next = await agentClient.claim('validator-b', 'default', 1, 30_000, 'keymanager');
    assert.equal(next.keys.map((k) => k.pubKey), [pubKeys[0]]);
    const clockSlot = BigInt(Math.floor((releasedAt - KNOWN_NETWORKS.mainnet.genesisTime * 1000) / 12_000));
    const nextMarks = watermarks(parseInterchange(next.keys[0]!.slashingProtection), pubKeys[0]!);
    assert.ok(nextMarks.maxBlockSlot! >= clockSlot, `block watermark ${nextMarks.maxBlockSlot} is at least mainnet's slot ${clockSlot} when released`);
    assert.ok(nextMarks.maxTargetEpoch! >= clockSlot / 32n, `target watermark ${nextMarks.maxTargetEpoch} is at least the epoch ${clockSlot / 32n}`);
    assert.is(nextMarks.maxSourceEpoch, 7n, 'the imported source stays');
    await agentClient.release('validator-b', next.leaseId, 5000, { slashingProtection: interchange(GVR, pubKeys[0]!, String(nextMarks.maxBlockSlot! + 1n)) });
    assert.equal((await call('GET')).body.data.map((k: { keylease: { state: string } }) => k.keylease.state), ['unallocated'], 'a Keymanager release with protection frees the key at once');

    // The token file is a mounted Secret in Kubernetes: a rotated token applies without a restart.
    const rotated = 'r'.repeat(64);
    await writeFile(join(dataDir, 'api-token.txt'), rotated + '\n');
    await eventually(async () => ((await call('GET', undefined, `Bearer ${rotated}`)).status === 200 ? true : undefined), 10_000, 'the rotated token to apply');
    assert.is((await call('GET')).status, 403, 'the old token no longer works');
  } finally {
    agentClient.close();
    await coordinator.close();
    await dir.cleanup();
  }
});

test('re-importing keys of the pool merges their slashing protection (watermarks only go up); protection for keys outside the request and the pool is refused by name; protection imports on its own', async () => {
  const dir = await tempDir('km-protection');
  const secrets = await writeSecrets(dir.path);
  const dataDir = join(dir.path, 'data');
  const values = parseFlags(COORDINATOR_COMMAND, ['--data-dir', dataDir, '--kek-file', secrets.kekFile, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0'], {});
  const coordinator = await startCoordinator(coordinatorConfig(values), silentLogger);
  const token = (await readFile(join(dataDir, 'api-token.txt'), 'utf8')).trim();
  const call = async (path: string, method: string, body?: unknown) => {
    const response = await fetch(`http://127.0.0.1:${coordinator.httpPort}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: response.status, body: (await response.json()) as any };
  };
  const poolProtection = async (pubKey: string) => watermarks(parseInterchange(JSON.stringify((await call(`/slashing-protection?pubkey=${pubKey}`, 'GET')).body)), pubKey);
  try {
    const seed = mnemonicToSeed('legal winner thank year wave sausage worth useful legal winner thank yellow');
    const keys = [0, 1, 2].map((i) => deriveSigningKey(seed, i));
    const pubKeys = keys.map((k) => pubKeyHex(k.pubKey));
    const keystores = await Promise.all(keys.map(async (k) => JSON.stringify(await encryptKeystore('pw', k.privKey, k.pubKey, k.path))));
    const stranger = pubKeyHex(deriveSigningKey(seed, 9).pubKey);
    const records = (entries: Array<[string, string, string, string]>) =>
      JSON.stringify({ metadata: { interchange_format_version: '5', genesis_validators_root: GVR }, data: entries.map(([pubkey, slot, source, target]) => ({ pubkey, signed_blocks: [{ slot }], signed_attestations: [{ source_epoch: source, target_epoch: target }] })) });

    assert.equal((await call('/eth/v1/keystores', 'POST', { keystores: keystores.slice(0, 2), passwords: ['pw', 'pw'], slashing_protection: records([[pubKeys[0]!, '50', '7', '8']]) })).body.data.map((d: { status: string }) => d.status), ['imported', 'imported']);

    // Protection naming a key that is neither imported nor in the pool: refused whole, naming it; nothing changes.
    const strays = await call('/eth/v1/keystores', 'POST', { keystores: keystores.slice(2), passwords: ['pw'], slashing_protection: records([[pubKeys[0]!, '90', '9', '10'], [stranger, '1', '1', '2']]) });
    assert.is(strays.status, 400);
    assert.match(strays.body.message, new RegExp(`neither in this import nor in pool default, so nothing was imported: ${stranger}$`));
    assert.is((await call('/eth/v1/keystores', 'GET')).body.data.length, 2, 'the third key was not imported');
    assert.is((await poolProtection(pubKeys[0]!)).maxBlockSlot, 50n);

    // Re-import: the key already in the pool is a duplicate, and its protection is merged, highest watermark each.
    const again = await call('/eth/v1/keystores', 'POST', { keystores: keystores.slice(0, 1), passwords: ['pw'], slashing_protection: records([[pubKeys[0]!, '40', '9', '12'], [pubKeys[1]!, '70', '3', '4']]) });
    assert.is(again.status, 200);
    assert.equal(again.body.data, [{ status: 'duplicate', message: 'already in the pool; its slashing protection was merged (source epoch 7 → 9, target epoch 8 → 12)' }]);
    assert.equal(again.body.keylease_protection.map((r: { pubkey: string; status: string }) => [r.pubkey, r.status]), [[pubKeys[0], 'raised'], [pubKeys[1], 'raised']], 'protection for another pool key in the file is merged too');
    assert.equal(await poolProtection(pubKeys[0]!), { maxBlockSlot: 50n, maxSourceEpoch: 9n, maxTargetEpoch: 12n }, 'the lower block slot did not lower the watermark');

    // The EIP-3076 file on its own, for keys of the pool.
    const only = await call('/slashing-protection', 'POST', JSON.parse(records([[pubKeys[1]!, '75', '2', '3']])));
    assert.is(only.status, 200);
    assert.equal(only.body.data, [{ pubkey: pubKeys[1], status: 'raised', before: { block_slot: '70', source_epoch: '3', target_epoch: '4' }, after: { block_slot: '75', source_epoch: '3', target_epoch: '4' }, foreign_cleared: false }]);
    const outside = await call('/slashing-protection', 'POST', JSON.parse(records([[pubKeys[1]!, '99', '5', '6'], [pubKeys[2]!, '1', '1', '2']])));
    assert.is(outside.status, 400);
    assert.match(outside.body.message, new RegExp(`not in pool default, so nothing was imported: ${pubKeys[2]}`));
    assert.is((await poolProtection(pubKeys[1]!)).maxBlockSlot, 75n, 'a refused import changed nothing');
    const otherNetwork = await call('/slashing-protection', 'POST', { ...JSON.parse(records([[pubKeys[1]!, '99', '5', '6']])), metadata: { interchange_format_version: '5', genesis_validators_root: '0x' + '33'.repeat(32) } });
    assert.is(otherNetwork.status, 400);
    assert.match(otherNetwork.body.message, /genesis_validators_root/);
  } finally {
    await coordinator.close();
    await dir.cleanup();
  }
});

test.run();
