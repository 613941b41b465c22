import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { DerivationPool } from '../../coordinator/keys/derivation-pool.js';
import { deriveSigningKey, mnemonicToSeed, pubKeyHex } from '../../coordinator/keys/derive.js';
import { openPoolKey } from '../../coordinator/keys/pool-key.js';
import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

test('two workers derive the same keys as the direct path, sealed and in index order, while the event loop keeps running', async () => {
  const kek = randomBytes(32);
  const seed = mnemonicToSeed(MNEMONIC);
  const pool = new DerivationPool(2);
  let derived = 0;
  const backlog: number[] = [];
  pool.observer = { onKeyDerived: () => derived++, onBacklog: (keys) => backlog.push(keys) };
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const progress: number[] = [];
  try {
    // More keys than one chunk per worker: both workers share the request.
    const keys = await pool.derive(seed, kek, 10, 10, (done) => progress.push(done));
    assert.equal(keys.map((k) => k.derivationIndex), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.equal(progress, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.is(derived, 10, 'every key is counted as it is derived');
    assert.is(backlog[0], 10, 'the backlog starts at the whole request');
    for (const key of keys) {
      const direct = deriveSigningKey(seed, key.derivationIndex);
      assert.is(key.pubKey, pubKeyHex(direct.pubKey));
      assert.is(key.path, direct.path);
      const opened = openPoolKey(kek, key);
      assert.equal(Buffer.from(await decryptKeystore(parseKeystore(opened.keystoreJson), opened.keystorePassword)), Buffer.from(direct.privKey));
    }
  } finally {
    clearInterval(timer);
    await pool.close();
  }
  assert.ok(ticks >= 10, `only ${ticks} timer callbacks ran while 10 keys were derived`);
});

test('a request\'s last keys (all of a small one) go one per message, so the workers finish together: the backlog falls key by key', async () => {
  const pool = new DerivationPool(2);
  const backlog: number[] = [];
  pool.observer = { onKeyDerived: () => {}, onBacklog: (keys) => backlog.push(keys) };
  try {
    const keys = await pool.derive(mnemonicToSeed(MNEMONIC), randomBytes(32), 0, 5);
    assert.equal(keys.map((k) => k.derivationIndex), [0, 1, 2, 3, 4]);
    // The request resolves with its last key; the backlog is told once that key's message is done.
    while (backlog.at(-1) !== 0) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(backlog, [5, 4, 3, 2, 1, 0]);
  } finally {
    await pool.close();
  }
});

test('while no worker is allowed no key is derived; derivation goes on once workers are allowed again', async () => {
  let allowed = 0;
  let asked = 0;
  const pool = new DerivationPool(2, () => (asked++, allowed));
  let derived = 0;
  pool.observer = { onKeyDerived: () => derived++, onBacklog: () => {} };
  try {
    const keys = pool.derive(mnemonicToSeed(MNEMONIC), randomBytes(32), 0, 2);
    // The pool has looked again and again (long enough to derive a key many times over) and held back.
    while (asked < 20) await new Promise((resolve) => setImmediate(resolve));
    assert.is(derived, 0);
    allowed = 1;
    assert.is((await keys).length, 2);
    assert.is(derived, 2);
  } finally {
    await pool.close();
  }
});

test('closing the pool fails requests still waiting, naming the shutdown', async () => {
  const pool = new DerivationPool(1, () => 0);
  const keys = pool.derive(mnemonicToSeed(MNEMONIC), randomBytes(32), 0, 1);
  await pool.close();
  try {
    await keys;
    assert.unreachable('a request survived the close');
  } catch (error) {
    assert.match((error as Error).message, /shutting down/);
  }
});

test.run();
