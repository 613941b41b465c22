import { test } from 'uvu';
import * as assert from 'uvu/assert';
import bls from '@chainsafe/bls';
import { create, decrypt, type IKeystore } from '@chainsafe/bls-keystore';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { encodeAccountStore, PRYSM_WALLET_KEYSTORE, PRYSM_WALLET_PASSWORD } from '../../shared/eth/layouts/prysm.js';
import { LayoutError, READY_MARKER } from '../../shared/eth/layouts/engine.js';
import { layoutFor } from '../../shared/eth/layouts/registry.js';
import { LAYOUT_NAMES, type KeyToWrite, type LayoutName } from '../../shared/eth/layouts/types.js';
import { tempDir } from '../support/temp-dir.js';

/* ----------------------------------------------------------------------------------------------- */
/* Keys: real BLS keys in real EIP-2335 keystores, with a cheap KDF so the suite stays fast.          */

interface TestKey extends KeyToWrite {
  readonly secret: Uint8Array;
}

async function makeKey(index: number): Promise<TestKey> {
  const secretKey = bls.SecretKey.fromKeygen();
  const secret = secretKey.toBytes();
  const pub = secretKey.toPublicKey().toBytes();
  // Each key its own password, with characters that must survive verbatim.
  const password = `pw ${index} ${randomBytes(8).toString('hex')} ü`;
  const cheapKdf = { function: 'pbkdf2' as const, params: { dklen: 32, c: 16, prf: 'hmac-sha256' as const, salt: randomBytes(32).toString('hex') } };
  const keystore = await create(password, secret, pub, `m/12381/3600/${index}/0/0`, null, cheapKdf);
  return { pubKey: '0x' + Buffer.from(pub).toString('hex'), keystoreJson: JSON.stringify(keystore), keystorePassword: password, secret };
}

const KEYS: TestKey[] = [];
for (let i = 0; i < 4; i++) KEYS.push(await makeKey(i));
const [K0, K1, K2, K3] = KEYS as [TestKey, TestKey, TestKey, TestKey];

/* ----------------------------------------------------------------------------------------------- */
/* Readers: what each validator client would load from the directory.                                */

interface Loaded {
  readonly keystoreJson: string;
  readonly password: string;
}

const PUBKEY = /^0x[0-9a-f]{96}$/;

async function readText(path: string): Promise<string> {
  assert.ok(isAbsolute(path), `${path} is absolute`);
  assert.ok(existsSync(path), `${path} exists`);
  return readFile(path, 'utf8');
}

function keystorePubKey(keystoreJson: string): string {
  return '0x' + (JSON.parse(keystoreJson) as { pubkey: string }).pubkey;
}

async function readPairs(keysDir: string, keySuffix: string, passwordDir: string, passwordSuffix: string, innerFile?: string): Promise<Map<string, Loaded>> {
  const loaded = new Map<string, Loaded>();
  for (const name of await readdir(keysDir)) {
    if (!name.endsWith(keySuffix)) continue;
    const stem = name.slice(0, name.length - keySuffix.length);
    assert.match(stem, PUBKEY, `${name} is named after its public key`);
    const keystoreJson = await readText(innerFile ? join(keysDir, name, innerFile) : join(keysDir, name));
    assert.is(keystorePubKey(keystoreJson), stem, `${name} holds the keystore of ${stem}`);
    loaded.set(stem, { keystoreJson, password: await readText(join(passwordDir, stem + passwordSuffix)) });
  }
  return loaded;
}

const readers: Record<Exclude<LayoutName, 'prysm'>, (outDir: string) => Promise<Map<string, Loaded>>> = {
  lighthouse: async (outDir) => {
    const text = await readFile(join(outDir, 'validator_definitions.yml'), 'utf8');
    const definitions = parseYaml(text) as Array<Record<string, unknown>>;
    assert.ok(Array.isArray(definitions), 'validator_definitions.yml is a YAML list');
    const loaded = new Map<string, Loaded>();
    for (const def of definitions) {
      assert.is(def['enabled'], true);
      assert.is(def['type'], 'local_keystore');
      const pubKey = def['voting_public_key'];
      assert.type(pubKey, 'string', 'voting_public_key stays a string (not a hex number)');
      assert.match(pubKey as string, PUBKEY);
      assert.ok(text.includes(`voting_public_key: "${pubKey as string}"`), 'quoted, as Lighthouse writes it');
      const keystorePath = def['voting_keystore_path'] as string;
      const passwordPath = def['voting_keystore_password_path'] as string;
      assert.is(keystorePath, join(outDir, 'validators', pubKey as string, 'voting-keystore.json'), 'Lighthouse layout: validators/0x<pubkey>/voting-keystore.json');
      assert.is(passwordPath, join(outDir, 'secrets', pubKey as string), 'Lighthouse layout: secrets/0x<pubkey>');
      const keystoreJson = await readText(keystorePath);
      assert.is(keystorePubKey(keystoreJson), pubKey);
      loaded.set(pubKey as string, { keystoreJson, password: await readText(passwordPath) });
    }
    assert.is(loaded.size, definitions.length, 'no key is listed twice');
    return loaded;
  },
  teku: (outDir) => readPairs(join(outDir, 'keys'), '.json', join(outDir, 'passwords'), '.txt'),
  nimbus: (outDir) => readPairs(join(outDir, 'validators'), '', join(outDir, 'secrets'), '', 'keystore.json'),
  lodestar: (outDir) => readPairs(join(outDir, 'keystores'), '', join(outDir, 'secrets'), '', 'voting-keystore.json'),
  plain: (outDir) => readPairs(join(outDir, 'keystores'), '.json', join(outDir, 'secrets'), '.txt'),
  web3signer: async (outDir) => {
    const loaded = new Map<string, Loaded>();
    for (const name of await readdir(outDir)) {
      if (!name.endsWith('.yaml')) continue;
      const config = parseYaml(await readFile(join(outDir, name), 'utf8')) as Record<string, unknown>;
      assert.is(config['type'], 'file-keystore');
      assert.is(config['keyType'], 'BLS');
      const keystoreJson = await readText(config['keystoreFile'] as string);
      const pubKey = keystorePubKey(keystoreJson);
      assert.is(name, `${pubKey}.yaml`);
      assert.is(dirname(config['keystorePasswordFile'] as string), outDir, 'the password file sits beside the config');
      loaded.set(pubKey, { keystoreJson, password: await readText(config['keystorePasswordFile'] as string) });
    }
    return loaded;
  },
};

/** Prysm: open the wallet as the validator would, with the generated wallet password (independent EIP-2335 code). */
async function readPrysmWallet(outDir: string): Promise<Map<string, string>> {
  const walletPassword = await readText(join(outDir, PRYSM_WALLET_PASSWORD));
  assert.ok(walletPassword.length >= 32, 'a long random wallet password');
  const walletDirs = (await readdir(outDir)).filter((n) => ['derived', 'direct', 'imported', 'local', 'remote', 'web3signer'].includes(n));
  assert.equal(walletDirs, ['direct'], 'exactly one keymanager directory, as Prysm requires');
  const wallet = JSON.parse(await readText(join(outDir, PRYSM_WALLET_KEYSTORE))) as Record<string, unknown>;
  assert.equal(Object.keys(wallet).sort(), ['crypto', 'name', 'uuid', 'version']);
  assert.is(wallet['name'], 'keystore');
  assert.is(wallet['version'], 4);
  const store = JSON.parse(Buffer.from(await decrypt(wallet as unknown as IKeystore, walletPassword)).toString('utf8')) as { private_keys: string[]; public_keys: string[] };
  assert.equal(Object.keys(store).sort(), ['private_keys', 'public_keys']);
  assert.is(store.private_keys.length, store.public_keys.length);
  const pairs = new Map<string, string>();
  store.public_keys.forEach((pub, i) => {
    const pubBytes = Buffer.from(pub, 'base64');
    const secretBytes = Buffer.from(store.private_keys[i]!, 'base64');
    assert.is(pubBytes.length, 48);
    assert.is(secretBytes.length, 32);
    assert.is(pubBytes.toString('base64'), pub, 'standard padded base64, as Go encodes []byte');
    pairs.set('0x' + pubBytes.toString('hex'), secretBytes.toString('hex'));
  });
  return pairs;
}

/* ----------------------------------------------------------------------------------------------- */
/* Checks.                                                                                           */

async function walk(dir: string): Promise<Array<{ path: string; isDir: boolean; mode: number }>> {
  const out: Array<{ path: string; isDir: boolean; mode: number }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const info = await stat(path);
    out.push({ path, isDir: entry.isDirectory(), mode: info.mode & 0o777 });
    if (entry.isDirectory()) out.push(...(await walk(path)));
  }
  return out;
}

async function readMarker(outDir: string): Promise<string[]> {
  return (JSON.parse(await readFile(join(outDir, READY_MARKER), 'utf8')) as { pubKeys: string[] }).pubKeys;
}

/** Everything a client would load is exactly `keys`, with matching passwords; modes are 0600/0700; the marker is right. */
async function expectWritten(name: LayoutName, outDir: string, keys: readonly TestKey[]): Promise<void> {
  if (name === 'prysm') {
    const pairs = await readPrysmWallet(outDir);
    assert.equal([...pairs.keys()].sort(), keys.map((k) => k.pubKey).sort(), 'the wallet holds exactly the keys written');
    for (const key of keys) assert.is(pairs.get(key.pubKey), Buffer.from(key.secret).toString('hex'), `the wallet pairs ${key.pubKey} with its own secret`);
  } else {
    const loaded = await readers[name](outDir);
    assert.equal([...loaded.keys()].sort(), keys.map((k) => k.pubKey).sort(), 'the client finds exactly the keys written');
    for (const key of keys) {
      assert.is(loaded.get(key.pubKey)?.keystoreJson, key.keystoreJson, `keystore of ${key.pubKey}`);
      assert.is(loaded.get(key.pubKey)?.password, key.keystorePassword, `password of ${key.pubKey}, verbatim`);
    }
  }
  assert.equal(await readMarker(outDir), keys.map((k) => k.pubKey), 'the marker lists exactly the public keys');
  for (const entry of await walk(outDir)) {
    if (basename(entry.path) === 'unrelated.txt') continue;
    assert.not.ok(entry.path.includes('keylease-tmp'), `no temporary file left: ${entry.path}`);
    assert.is(entry.mode, entry.isDir ? 0o700 : 0o600, `mode of ${entry.path}`);
  }
  const marker = await readFile(join(outDir, READY_MARKER), 'utf8');
  for (const key of keys) assert.not.ok(marker.includes(key.keystorePassword), 'no password in the marker');
}

/** After remove: only what the test put there is left. */
async function expectOnly(outDir: string, expected: string[]): Promise<void> {
  const left = (await walk(outDir)).map((e) => e.path.slice(outDir.length + 1)).sort();
  assert.equal(left, [...expected].sort());
}

async function rejection(promise: Promise<unknown>): Promise<LayoutError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, LayoutError);
    return error as LayoutError;
  }
  throw new Error('expected a rejection');
}

/* ----------------------------------------------------------------------------------------------- */
/* Tests.                                                                                            */

test('the registry: names in order, one layout each', () => {
  assert.equal([...LAYOUT_NAMES], ['lighthouse', 'teku', 'nimbus', 'lodestar', 'prysm', 'web3signer', 'plain']);
  for (const name of LAYOUT_NAMES) assert.is(layoutFor(name).name, name);
  const error = (() => {
    try {
      layoutFor('prysmm' as LayoutName);
    } catch (e) {
      return e as LayoutError;
    }
    return null;
  })();
  assert.instance(error, LayoutError);
  assert.match(error!.message, /use one of lighthouse, teku, nimbus, lodestar, prysm, web3signer, plain/);
});

for (const name of LAYOUT_NAMES) {
  test(`${name}: write, rewrite with other keys, remove`, async () => {
    const dir = await tempDir(`layout-${name}`);
    try {
      const outDir = join(dir.path, 'out');
      await mkdir(outDir, { mode: 0o700 });
      await writeFile(join(outDir, 'unrelated.txt'), 'not keylease’s');
      const layout = layoutFor(name);

      await layout.write(outDir, [K0, K1]);
      await expectWritten(name, outDir, [K0, K1]);

      // K0 leaves, K1 stays, K2 arrives.
      await layout.write(outDir, [K2, K1]);
      await expectWritten(name, outDir, [K2, K1]);
      const everything = await walk(outDir);
      const allText = (await Promise.all(everything.filter((e) => !e.isDir).map((e) => readFile(e.path, 'utf8')))).join('\n');
      assert.not.ok(allText.includes(K0.pubKey.slice(2)), 'nothing of the replaced key is left');
      assert.not.ok(allText.includes(K0.keystorePassword), 'nor its password');

      await layout.remove(outDir);
      assert.not.ok(existsSync(join(outDir, READY_MARKER)), 'marker removed');
      await expectOnly(outDir, ['unrelated.txt']);
      assert.is(await readFile(join(outDir, 'unrelated.txt'), 'utf8'), 'not keylease’s');

      await layout.remove(outDir); // idempotent
      await expectOnly(outDir, ['unrelated.txt']);
    } finally {
      await dir.cleanup();
    }
  });
}

test('remove on a missing directory does nothing, and does not create it', async () => {
  const dir = await tempDir('layout-missing');
  try {
    for (const name of LAYOUT_NAMES) {
      const outDir = join(dir.path, `never-${name}`);
      await layoutFor(name).remove(outDir);
      assert.not.ok(existsSync(outDir), name);
    }
  } finally {
    await dir.cleanup();
  }
});

test('plain: keystores/ exists after write and is gone after remove', async () => {
  const dir = await tempDir('layout-plain-dirs');
  try {
    const layout = layoutFor('plain');
    await layout.write(dir.path, [K3]);
    assert.ok(existsSync(join(dir.path, 'keystores', `${K3.pubKey}.json`)));
    assert.ok(existsSync(join(dir.path, 'secrets', `${K3.pubKey}.txt`)));
    await layout.remove(dir.path);
    assert.not.ok(existsSync(join(dir.path, 'keystores')));
    assert.not.ok(existsSync(join(dir.path, 'secrets')));
  } finally {
    await dir.cleanup();
  }
});

test('remove keeps files it does not own, even inside its own directories', async () => {
  const dir = await tempDir('layout-foreign');
  try {
    const teku = join(dir.path, 'teku');
    await layoutFor('teku').write(teku, [K0]);
    await writeFile(join(teku, 'keys', 'README.md'), 'mine');
    await writeFile(join(teku, 'keys', `${K0.pubKey}.json.lock`), ''); // a client's lock file
    await layoutFor('teku').remove(teku);
    await expectOnly(teku, ['keys', 'keys/README.md', `keys/${K0.pubKey}.json.lock`]);

    const nimbus = join(dir.path, 'nimbus');
    await layoutFor('nimbus').write(nimbus, [K1]);
    await writeFile(join(nimbus, 'validators', K1.pubKey, 'suggested_fee_recipient.hex'), '0x00');
    await layoutFor('nimbus').remove(nimbus);
    await expectOnly(nimbus, ['validators', `validators/${K1.pubKey}`, `validators/${K1.pubKey}/suggested_fee_recipient.hex`]);

    // Prysm's wallet dir may hold the validator's own database.
    const prysm = join(dir.path, 'prysm');
    await layoutFor('prysm').write(prysm, [K2]);
    await writeFile(join(prysm, 'validator.db'), 'db');
    await layoutFor('prysm').remove(prysm);
    await expectOnly(prysm, ['validator.db']);
  } finally {
    await dir.cleanup();
  }
});

test('remove: the marker goes first; a file it cannot remove does not stop it removing the rest', async () => {
  const dir = await tempDir('layout-stuck');
  try {
    const layout = layoutFor('lodestar');
    await layout.write(dir.path, [K0, K1]);
    // Replace K0's password file with a non-empty directory: unlink fails even for root.
    const stuck = join(dir.path, 'secrets', K0.pubKey);
    await rm(stuck);
    await mkdir(stuck);
    await writeFile(join(stuck, 'x'), 'x');

    const error = await rejection(layout.remove(dir.path));
    assert.is(error.code, 'LAYOUT_REMOVE');
    assert.not.ok(error.message.includes(K0.keystorePassword) || error.message.includes(K1.keystorePassword), 'no password in the error');
    assert.not.ok(existsSync(join(dir.path, READY_MARKER)), 'marker gone');
    assert.not.ok(existsSync(join(dir.path, 'keystores', K0.pubKey)), 'K0 keystore gone');
    assert.not.ok(existsSync(join(dir.path, 'keystores', K1.pubKey)), 'K1 keystore gone');
    assert.not.ok(existsSync(join(dir.path, 'secrets', K1.pubKey)), 'K1 password gone');
  } finally {
    await dir.cleanup();
  }
});

test('bad keys are refused before anything is written, without secrets in the message', async () => {
  const dir = await tempDir('layout-bad');
  try {
    const layout = layoutFor('teku');
    const upper = { ...K0, pubKey: K0.pubKey.toUpperCase().replace('0X', '0x') };
    assert.is((await rejection(layout.write(dir.path, [upper]))).code, 'LAYOUT_KEY');
    assert.is((await rejection(layout.write(dir.path, [K0, K0]))).code, 'LAYOUT_KEY');
    const swapped = { ...K0, pubKey: K1.pubKey };
    const error = await rejection(layout.write(dir.path, [swapped]));
    assert.is(error.code, 'LAYOUT_KEY');
    assert.match(error.message, K1.pubKey);
    const broken = await rejection(layout.write(dir.path, [{ ...K0, keystoreJson: '{"version":4}' }]));
    assert.is(broken.code, 'LAYOUT_KEY');
    assert.not.ok(broken.message.includes(K0.keystorePassword));
    await expectOnly(dir.path, []);

    // A failed write also clears what an earlier write left.
    await layout.write(dir.path, [K2]);
    await rejection(layout.write(dir.path, [upper]));
    await expectOnly(dir.path, []);
  } finally {
    await dir.cleanup();
  }
});

test('prysm: a wrong keystore password fails the write, leaves no wallet and no password in the error', async () => {
  const dir = await tempDir('layout-prysm-bad');
  try {
    const layout = layoutFor('prysm');
    const wrong = { ...K1, keystorePassword: 'not-the-password-' + randomBytes(4).toString('hex') };
    const error = await rejection(layout.write(dir.path, [K0, wrong]));
    assert.is(error.code, 'LAYOUT_KEY');
    assert.match(error.message, K1.pubKey);
    assert.not.ok(error.message.includes(wrong.keystorePassword) || error.message.includes(K0.keystorePassword));
    await expectOnly(dir.path, []);

    // A keystore whose secret is not the named public key's.
    const foreign = { ...K2, pubKey: K3.pubKey, keystoreJson: JSON.stringify({ ...JSON.parse(K2.keystoreJson), pubkey: K3.pubKey.slice(2) }) };
    const mismatch = await rejection(layout.write(dir.path, [foreign]));
    assert.is(mismatch.code, 'LAYOUT_KEY');
    await expectOnly(dir.path, []);
  } finally {
    await dir.cleanup();
  }
});

test('prysm: the account store is Go-compatible JSON (padded standard base64)', () => {
  const secrets = [new Uint8Array(32).fill(0xfb), Uint8Array.from({ length: 32 }, (_, i) => i * 7)];
  const pubs = [Uint8Array.from({ length: 48 }, (_, i) => 255 - i), new Uint8Array(48).fill(0xff)];
  const json = encodeAccountStore(secrets, pubs).toString('latin1');
  assert.equal(JSON.parse(json), {
    private_keys: secrets.map((s) => Buffer.from(s).toString('base64')),
    public_keys: pubs.map((p) => Buffer.from(p).toString('base64')),
  });
  assert.equal(JSON.parse(encodeAccountStore([new Uint8Array([1])], [new Uint8Array([1, 2])]).toString('latin1')), { private_keys: ['AQ=='], public_keys: ['AQI='] });
  assert.equal(JSON.parse(encodeAccountStore([], []).toString('latin1')), { private_keys: [], public_keys: [] });
});

test('a remove called while a write is under way wins: the write is abandoned and nothing is left', async () => {
  const dir = await tempDir('layout-race');
  try {
    for (const name of ['prysm', 'lighthouse', 'plain'] as const) {
      const outDir = join(dir.path, name);
      const layout = layoutFor(name);
      // Called together: the write has not started when the remove arrives.
      const writing = layout.write(outDir, [K0, K1, K2]);
      const removing = layout.remove(outDir);
      assert.is((await rejection(writing)).code, 'LAYOUT_SUPERSEDED');
      await removing;
      assert.not.ok(existsSync(outDir), 'nothing was written');

      // Mid-way: the write stops at its next step (or has just finished); either way the remove leaves nothing.
      await mkdir(outDir);
      const midway = layout.write(outDir, [K0, K1, K2]).then(
        () => 'finished',
        (error: LayoutError) => error.code,
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
      await layout.remove(outDir);
      assert.ok(['finished', 'LAYOUT_SUPERSEDED'].includes(await midway), 'the write finished or was abandoned');
      await expectOnly(outDir, []);

      // The directory works normally afterwards.
      await layout.write(outDir, [K3]);
      await expectWritten(name, outDir, [K3]);
    }
  } finally {
    await dir.cleanup();
  }
});

test('lighthouse: paths in validator_definitions.yml are absolute even for a relative outDir', async () => {
  const dir = await tempDir('layout-relative');
  const cwd = process.cwd();
  try {
    process.chdir(dir.path);
    await layoutFor('lighthouse').write('rel', [K0]);
    const defs = parseYaml(await readFile(join(dir.path, 'rel', 'validator_definitions.yml'), 'utf8')) as Array<Record<string, string>>;
    assert.is(defs[0]!['voting_keystore_path'], join(process.cwd(), 'rel', 'validators', K0.pubKey, 'voting-keystore.json'));
    assert.is(defs[0]!['voting_keystore_password_path'], join(process.cwd(), 'rel', 'secrets', K0.pubKey));
  } finally {
    process.chdir(cwd);
    await dir.cleanup();
  }
});

test.run();
