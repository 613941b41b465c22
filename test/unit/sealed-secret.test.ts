import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { heldSealedSecret, restoreSnapshotText, sealedSecretText, snapshotText, stateHash, takeSnapshot, type NewPoolKey } from '../../coordinator/core/index.js';
import { deriveSigningKey, mnemonicToSeed } from '../../coordinator/keys/derive.js';
import { KeysError } from '../../coordinator/keys/errors.js';
import { openPoolKey, sealNewKey } from '../../coordinator/keys/pool-key.js';
import { applied, stateWithPool } from '../support/core-state.js';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const seed = mnemonicToSeed(MNEMONIC);

async function sealedKeys(kek: Buffer, count: number): Promise<NewPoolKey[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => {
    const { privKey, pubKey, path } = deriveSigningKey(seed, i);
    return sealNewKey(kek, privKey, pubKey, path);
  }));
}

test('a sealed secret is held as its bytes (three quarters of the text) and turns back into exactly the same text', async () => {
  const kek = randomBytes(32);
  const [key] = await sealedKeys(kek, 1);
  const held = heldSealedSecret(key!.sealedSecret);
  assert.is(sealedSecretText(held), key!.sealedSecret);
  assert.ok(held.length < key!.sealedSecret.length * 0.76, `held ${held.length} characters, text ${key!.sealedSecret.length}`);
  const v1 = `v1:${randomBytes(100).toString('base64')}`;
  assert.is(sealedSecretText(heldSealedSecret(v1)), v1);
  // Text in any other form is held as it is, so that it, too, is stored again unchanged.
  for (const other of ['sealed-3', 'v3:QUJD', 'v2:QQ', 'v2:not base64!', 'v2:', '']) assert.is(heldSealedSecret(other), other);
  // Nor can text be taken for the held form.
  for (const other of ['\u0002abc', '\u0001', '\u0000x']) assert.is(sealedSecretText(heldSealedSecret(other)), other);
});

test('a held secret opens like its text, and only on its own public key (the AES-GCM associated data)', async () => {
  const kek = randomBytes(32);
  const [key, other] = await sealedKeys(kek, 2);
  const held = { ...key!, sealedSecret: heldSealedSecret(key!.sealedSecret) };
  assert.equal(openPoolKey(kek, held), openPoolKey(kek, key!));
  assert.throws(() => openPoolKey(kek, { ...held, pubKey: other!.pubKey }), (e: unknown) => e instanceof KeysError && e.code === 'KEK_MISMATCH');
  assert.throws(() => openPoolKey(randomBytes(32), held), (e: unknown) => e instanceof KeysError && e.code === 'KEK_MISMATCH');
});

test('the core holds imported keys\' secrets as bytes; claims hand them out openable; snapshots store the text as before', async () => {
  const kek = randomBytes(32);
  const keys = await sealedKeys(kek, 3);
  const state = stateWithPool({ derive: false });
  applied(state, { type: 'ImportKeys', nowMs: 2_000, pool: 'default', keys });
  for (const key of keys) assert.is(state.keys.get(key.pubKey)!.sealedSecret, heldSealedSecret(key.sealedSecret));
  const claim = applied(state, { type: 'Claim', nowMs: 3_000, podName: 'validator-0', pool: 'default', count: 2, derivedKeys: [] });
  for (const granted of claim.keys) assert.equal(openPoolKey(kek, granted), openPoolKey(kek, keys.find((k) => k.pubKey === granted.pubKey)!));

  const snapshot = takeSnapshot(state);
  assert.equal(snapshot.keys.map((k) => k.sealedSecret), [...keys].sort((a, b) => (a.pubKey < b.pubKey ? -1 : 1)).map((k) => k.sealedSecret));
  const text = [...snapshotText(snapshot, 64)].join('');
  for (const key of keys) assert.ok(text.includes(JSON.stringify(key.sealedSecret)), 'the stored text holds each secret as v2: and base64');
  const restored = restoreSnapshotText([text]);
  assert.equal(restored.keys, state.keys);
  assert.is(stateHash(restored), stateHash(state));

  // A replica's own snapshot copies the secrets as held and turns them into text part by part: the same text.
  const held = takeSnapshot(state, true, 'held');
  assert.equal(held.keys.map((k) => k.sealedSecret), snapshot.keys.map((k) => heldSealedSecret(k.sealedSecret)), 'the copy keeps the held form');
  assert.is([...snapshotText(held, 64, 'held')].join(''), text);
});

test('a snapshot written by an earlier version (secrets as text in each key\'s record) restores, opens and is written again byte for byte', async () => {
  const kek = randomBytes(32);
  const [key] = await sealedKeys(kek, 1);
  // The keylease-core-v3 text as an earlier version wrote it: a header line, then one key's record.
  const header = { format: 'keylease-core-v3', leaseSequence: 0, pools: [], counts: { keys: 1, leases: 0, recentRequests: 0, history: 0 } };
  const record = { pubKey: key!.pubKey, pool: 'default', derivationIndex: 0, path: key!.path, sealedSecret: key!.sealedSecret, addedAtMs: 1, state: 'unallocated', holderPod: null, leaseId: null, coolingUntilMs: null, quarantine: null, clockWatermarksDue: false, protection: null, deposit: null };
  const earlier = `${JSON.stringify(header)}\n${JSON.stringify(record)}\n`;
  const restored = restoreSnapshotText([earlier]);
  assert.equal(openPoolKey(kek, restored.keys.get(key!.pubKey)!), openPoolKey(kek, key!));
  assert.is([...snapshotText(takeSnapshot(restored))].join(''), earlier);
});

test.run();
