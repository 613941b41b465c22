import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decryptKeystore, encryptKeystore, encryptKeystoreSync, normalizeKeystorePassword, parseKeystore } from '../../shared/eth/keystore.js';
import { KeystoreError } from '../../shared/eth/errors.js';

// The official EIP-2335 test vectors (https://eips.ethereum.org/EIPS/eip-2335#test-cases).
const PASSWORD = '𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑';
const ENCODED_PASSWORD = '7465737470617373776f7264f09f9491';
const SECRET = '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f';
const PUBKEY = '9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07';
const SALT = 'd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3';
const IV = '264daa3f303d7259501c93d997d84fe6';

const SCRYPT_VECTOR = {
  crypto: {
    kdf: { function: 'scrypt', params: { dklen: 32, n: 262144, p: 1, r: 8, salt: SALT }, message: '' },
    checksum: { function: 'sha256', params: {}, message: 'd2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484' },
    cipher: { function: 'aes-128-ctr', params: { iv: IV }, message: '06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f' },
  },
  description: 'This is a test keystore that uses scrypt to secure the secret.',
  pubkey: PUBKEY,
  path: 'm/12381/60/3141592653/589793238',
  uuid: '1d85ae20-35c5-4611-98e8-aa14a633906f',
  version: 4,
};

const PBKDF2_VECTOR = {
  crypto: {
    kdf: { function: 'pbkdf2', params: { dklen: 32, c: 262144, prf: 'hmac-sha256', salt: SALT }, message: '' },
    checksum: { function: 'sha256', params: {}, message: '8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1' },
    cipher: { function: 'aes-128-ctr', params: { iv: IV }, message: 'cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad' },
  },
  description: 'This is a test keystore that uses PBKDF2 to secure the secret.',
  pubkey: PUBKEY,
  path: 'm/12381/60/0/0',
  uuid: '64625def-3331-4eea-ab6f-782f3ed16a83',
  version: 4,
};

test('the EIP-2335 password is NFKD-normalized with control codes stripped', () => {
  assert.is(normalizeKeystorePassword(PASSWORD).toString('hex'), ENCODED_PASSWORD);
  assert.is(normalizeKeystorePassword('a\u0000b\u007fc\u0085d\u001f e').toString('utf8'), 'abcd e');
});

test('the official scrypt vector decrypts to its secret', async () => {
  const secret = await decryptKeystore(parseKeystore(JSON.stringify(SCRYPT_VECTOR)), PASSWORD);
  assert.is(Buffer.from(secret).toString('hex'), SECRET);
});

test('the official PBKDF2 vector decrypts to its secret', async () => {
  const secret = await decryptKeystore(parseKeystore(JSON.stringify(PBKDF2_VECTOR)), PASSWORD);
  assert.is(Buffer.from(secret).toString('hex'), SECRET);
});

test('a wrong password is refused by the checksum and the error does not repeat it', async () => {
  try {
    await decryptKeystore(parseKeystore(JSON.stringify(PBKDF2_VECTOR)), 'hunter2-wrong');
    assert.unreachable('decrypted with a wrong password');
  } catch (error) {
    assert.instance(error, KeystoreError);
    assert.is((error as KeystoreError).code, 'KEYSTORE_PASSWORD');
    assert.match((error as Error).message, /does not decrypt/);
    assert.not.match((error as Error).message, /hunter2/);
  }
});

test('encrypt then decrypt returns the secret, with both KDFs, on the thread pool or the calling thread, and the result passes the parser', async () => {
  const secret = Buffer.from(SECRET, 'hex');
  for (const kdf of ['pbkdf2', 'scrypt'] as const) {
    for (const encrypt of [encryptKeystore, encryptKeystoreSync]) {
      const keystore = await encrypt('correct horse', secret, Buffer.from(PUBKEY, 'hex'), 'm/12381/3600/0/0/0', { kdf });
      const reparsed = parseKeystore(JSON.stringify(keystore));
      assert.is(reparsed.crypto.kdf.function, kdf);
      assert.is(reparsed.pubkey, PUBKEY);
      assert.is(Buffer.from(await decryptKeystore(reparsed, 'correct horse')).toString('hex'), SECRET, `${encrypt.name} with ${kdf}`);
    }
  }
});

test('the KDF runs off the event loop: timers keep firing while a scrypt keystore decrypts', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await decryptKeystore(parseKeystore(JSON.stringify(SCRYPT_VECTOR)), PASSWORD);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks >= 5, `only ${ticks} timer callbacks ran during a ~1 s scrypt`);
});

test('malformed keystores are refused naming the problem', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['{not json', /not valid JSON/],
    [{ ...PBKDF2_VECTOR, version: 3 }, /version is 3/],
    [{ ...PBKDF2_VECTOR, crypto: { ...PBKDF2_VECTOR.crypto, cipher: { ...PBKDF2_VECTOR.crypto.cipher, function: 'aes-256-gcm' } } }, /not aes-128-ctr/],
    [{ ...PBKDF2_VECTOR, crypto: { ...PBKDF2_VECTOR.crypto, kdf: { function: 'argon2', params: { dklen: 32, salt: SALT }, message: '' } } }, /neither scrypt nor pbkdf2/],
    [{ ...SCRYPT_VECTOR, crypto: { ...SCRYPT_VECTOR.crypto, kdf: { ...SCRYPT_VECTOR.crypto.kdf, params: { ...SCRYPT_VECTOR.crypto.kdf.params, n: 2 ** 30 } } } }, /more than 1 GiB/],
    [{ ...PBKDF2_VECTOR, pubkey: 'abc' }, /pubkey/],
  ];
  for (const [input, pattern] of cases) {
    try {
      parseKeystore(typeof input === 'string' ? input : JSON.stringify(input));
      assert.unreachable(`accepted ${pattern}`);
    } catch (error) {
      assert.instance(error, KeystoreError);
      assert.match((error as Error).message, pattern);
    }
  }
});

test.run();
