import { test } from 'uvu';
import * as assert from 'uvu/assert';
import bls from '@chainsafe/bls';
import { deriveChildSK, deriveMasterSK } from '@chainsafe/bls-hd-key';
import { createCipheriv, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deriveSigningKey, mnemonicToSeed, pubKeyHex } from '../../coordinator/keys/derive.js';
import { KeysError } from '../../coordinator/keys/errors.js';
import { readKek } from '../../coordinator/keys/kek.js';
import { generateMnemonic, readMnemonicFile } from '../../coordinator/keys/mnemonic-file.js';
import { openPoolKey, sealImportedKeystore, sealNewKey } from '../../coordinator/keys/pool-key.js';
import { decryptKeystore, encryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import { tempDir } from '../support/temp-dir.js';

const MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

// The EIP-2333 test vectors are in eip2333.test.ts; here, the path and the public key.
test('signing keys follow EIP-2334 m/12381/3600/i/0/0, with the public key of the secret', () => {
  const seed = mnemonicToSeed(MNEMONIC);
  for (const index of [0, 1, 7]) {
    let expected = deriveMasterSK(seed);
    for (const step of [12381, 3600, index, 0, 0]) expected = deriveChildSK(expected, step);
    const derived = deriveSigningKey(seed, index);
    assert.is(derived.path, `m/12381/3600/${index}/0/0`);
    assert.equal(Buffer.from(derived.privKey), Buffer.from(expected));
    assert.equal(Buffer.from(derived.pubKey), Buffer.from(bls.SecretKey.fromBytes(expected).toPublicKey().toBytes()));
  }
  assert.not.equal(Buffer.from(deriveSigningKey(seed, 0).pubKey), Buffer.from(deriveSigningKey(seed, 1).pubKey));
});

test('KEK files: raw, hex and base64 are read; a wrong size or a missing file is refused with the fix', async () => {
  const dir = await tempDir('kek');
  try {
    const kek = randomBytes(32);
    const forms: Array<[string, string | Buffer]> = [['raw', kek], ['hex', kek.toString('hex') + '\n'], ['0xhex', '0x' + kek.toString('hex')], ['base64', kek.toString('base64') + '\n']];
    for (const [name, content] of forms) {
      await writeFile(join(dir.path, name), content);
      assert.equal(await readKek(join(dir.path, name)), kek, name);
    }
    await writeFile(join(dir.path, 'short'), randomBytes(16));
    await assertKeysError(() => readKek(join(dir.path, 'short')), 'KEK_SIZE', /head -c 32 \/dev\/urandom/);
    await assertKeysError(() => readKek(join(dir.path, 'missing')), 'KEK_FILE', /missing.*ENOENT/);
  } finally {
    await dir.cleanup();
  }
});

test('mnemonic files are normalized and validated, and a bad one is never echoed', async () => {
  const dir = await tempDir('mnemonic');
  try {
    await writeFile(join(dir.path, 'ok'), '  Abandon abandon abandon abandon abandon abandon\nabandon abandon abandon abandon abandon about\n');
    assert.is(await readMnemonicFile(join(dir.path, 'ok')), MNEMONIC);
    await writeFile(join(dir.path, 'typo'), MNEMONIC.replace('about', 'aboot'));
    const typo = await assertKeysError(() => readMnemonicFile(join(dir.path, 'typo')), 'MNEMONIC_INVALID', /not a valid BIP39 mnemonic/);
    assert.not.match(typo, /aboot|abandon/);
    await writeFile(join(dir.path, 'checksum'), MNEMONIC.replace('about', 'abandon'));
    await assertKeysError(() => readMnemonicFile(join(dir.path, 'checksum')), 'MNEMONIC_INVALID', /checksum/);
    await writeFile(join(dir.path, 'short'), 'abandon about');
    await assertKeysError(() => readMnemonicFile(join(dir.path, 'short')), 'MNEMONIC_INVALID', /holds 2 words/);
    const fresh = generateMnemonic();
    assert.is(fresh.split(' ').length, 24);
    await writeFile(join(dir.path, 'fresh'), fresh);
    assert.is(await readMnemonicFile(join(dir.path, 'fresh')), fresh);
  } finally {
    await dir.cleanup();
  }
});

test('a sealed key opens only with its KEK and only on its own public key', async () => {
  const kek = randomBytes(32);
  const { privKey, pubKey, path } = deriveSigningKey(mnemonicToSeed(MNEMONIC), 3);
  const sealed = sealNewKey(kek, privKey, pubKey, path);
  assert.is(sealed.pubKey, pubKeyHex(pubKey));
  assert.not.ok(sealed.sealedSecret.includes(Buffer.from(privKey).toString('hex')));
  const opened = openPoolKey(kek, sealed);
  const keystore = parseKeystore(opened.keystoreJson);
  assert.equal(Buffer.from(await decryptKeystore(keystore, opened.keystorePassword)), Buffer.from(privKey));
  assert.is(keystore.path, path);

  const otherKek = randomBytes(32);
  await assertKeysError(async () => openPoolKey(otherKek, sealed), 'KEK_MISMATCH', /key-encryption key/);
  const other = deriveSigningKey(mnemonicToSeed(MNEMONIC), 4);
  await assertKeysError(async () => openPoolKey(kek, { ...sealed, pubKey: pubKeyHex(other.pubKey) }), 'KEK_MISMATCH', /does not open/);
});

test('keys sealed by an earlier version (v1, not deflated) still open; new ones are sealed deflated (v2) and smaller', async () => {
  const kek = randomBytes(32);
  const key = deriveSigningKey(mnemonicToSeed(MNEMONIC), 3);
  const sealed = sealNewKey(kek, key.privKey, key.pubKey, key.path);
  const opened = openPoolKey(kek, sealed);
  assert.ok(sealed.sealedSecret.startsWith('v2:'));
  // The v1 layout: AES-256-GCM over the JSON as it is, the public key as associated data.
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(sealed.pubKey));
  const body = Buffer.from(JSON.stringify({ keystoreJson: opened.keystoreJson, keystorePassword: opened.keystorePassword }));
  const v1 = `v1:${Buffer.concat([iv, cipher.update(body), cipher.final(), cipher.getAuthTag()]).toString('base64')}`;
  assert.equal(openPoolKey(kek, { ...sealed, sealedSecret: v1 }), opened);
  assert.ok(sealed.sealedSecret.length < v1.length * 0.75, `v2 is ${sealed.sealedSecret.length} characters, v1 ${v1.length}`);
});

test('an imported keystore is checked: wrong password and a pubkey that is not its secret\'s are refused', async () => {
  const kek = randomBytes(32);
  const key = deriveSigningKey(mnemonicToSeed(MNEMONIC), 5);
  const keystore = await encryptKeystore('correct horse', key.privKey, key.pubKey, key.path);
  const imported = await sealImportedKeystore(kek, JSON.stringify(keystore), 'correct horse');
  assert.is(imported.pubKey, pubKeyHex(key.pubKey));
  assert.is(openPoolKey(kek, imported).keystoreJson, JSON.stringify(keystore), 'the operator\'s keystore is kept as it was');

  await assertError(() => sealImportedKeystore(kek, JSON.stringify(keystore), 'wrong horse'), /does not decrypt/);
  const other = deriveSigningKey(mnemonicToSeed(MNEMONIC), 6);
  const lying = { ...keystore, pubkey: Buffer.from(other.pubKey).toString('hex') };
  await assertError(() => sealImportedKeystore(kek, JSON.stringify(lying), 'correct horse'), /not to the pubkey it names/);
});

async function assertError(run: () => Promise<unknown>, pattern: RegExp): Promise<string> {
  try {
    await run();
  } catch (error) {
    assert.match((error as Error).message, pattern);
    return (error as Error).message;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
  return "";
}

async function assertKeysError(run: () => Promise<unknown>, code: string, pattern: RegExp): Promise<string> {
  try {
    await run();
  } catch (error) {
    assert.instance(error, KeysError);
    assert.is((error as KeysError).code, code);
    assert.match((error as Error).message, pattern);
    return (error as Error).message;
  }
  assert.unreachable(`expected ${code}`);
  return "";
}

test.run();
