import bls from '@chainsafe/bls';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { sealedSecretText, type NewPoolKey } from '../core/index.js';
import { decryptKeystore, encryptKeystoreSync, parseKeystore } from '../../shared/eth/keystore.js';
import { KeystoreError } from '../../shared/eth/errors.js';
import { pubKeyHex } from './derive.js';
import { KeysError } from './errors.js';

/** A pool key opened for a claim: what the agent needs, sent only over the agent API. */
export interface OpenedPoolKey {
  readonly pubKey: string;
  readonly keystoreJson: string;
  readonly keystorePassword: string;
}

/** v2: the keystore and password deflated before sealing (v1, still opened: as they are). */
const SEAL_VERSION = 'v2';
const SEAL_VERSIONS = ['v1', 'v2'];
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A key enters the pool encrypted once: an EIP-2335 keystore under a fresh random password, and that
 * keystore and password sealed together with AES-256-GCM under the KEK. The public key is the
 * associated data, so a sealed secret moved onto another key's record fails to open.
 * The keystore's KDF runs on the calling thread and blocks it (~70 ms): call it on a worker thread.
 */
export function sealNewKey(kek: Buffer, privKey: Uint8Array, pubKey: Uint8Array, path: string): NewPoolKey {
  const keystorePassword = randomBytes(32).toString('hex');
  const keystore = encryptKeystoreSync(keystorePassword, privKey, pubKey, path);
  const pubKeyText = pubKeyHex(pubKey);
  return { pubKey: pubKeyText, path, sealedSecret: seal(kek, pubKeyText, JSON.stringify(keystore), keystorePassword) };
}

/**
 * Checks that an existing keystore opens with its password and matches the public key it names, then
 * seals it as it is (the operator's keystore and password are kept, not re-encrypted).
 */
export async function sealImportedKeystore(kek: Buffer, keystoreJson: string, keystorePassword: string): Promise<NewPoolKey> {
  const keystore = parseKeystore(keystoreJson);
  const privKey = await decryptKeystore(keystore, keystorePassword);
  let pubKey: string;
  try {
    pubKey = pubKeyHex(bls.SecretKey.fromBytes(privKey).toPublicKey().toBytes());
  } catch (cause) {
    throw new KeystoreError('KEYSTORE_FORMAT', 'the keystore decrypts, but not to a BLS12-381 secret key', { cause });
  } finally {
    privKey.fill(0);
  }
  if (keystore.pubkey !== undefined && '0x' + keystore.pubkey.replace(/^0x/, '').toLowerCase() !== pubKey) {
    throw new KeystoreError('KEYSTORE_PUBKEY', `the keystore's secret belongs to ${pubKey}, not to the pubkey it names: the file is damaged or tampered with`);
  }
  return { pubKey, path: keystore.path, sealedSecret: seal(kek, pubKey, keystoreJson, keystorePassword) };
}

/** Opens a key's sealed secret, as text or in the form the core holds it in. */
export function openPoolKey(kek: Buffer, key: NewPoolKey): OpenedPoolKey {
  const [version, payload] = sealedSecretText(key.sealedSecret).split(':');
  if (!SEAL_VERSIONS.includes(version ?? '') || !payload) {
    throw new KeysError('KEYSTORE_SEALED', `the sealed secret of key ${key.pubKey} is in an unknown format: the data directory was written by another keylease version`);
  }
  const bytes = Buffer.from(payload, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', kek, bytes.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(key.pubKey));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new KeysError(
      'KEK_MISMATCH',
      `key ${key.pubKey} does not open with this key-encryption key: start with the --kek-file this data directory was created with`,
    );
  }
  const json = version === 'v1' ? plain : inflateRawSync(plain);
  const { keystoreJson, keystorePassword } = JSON.parse(json.toString('utf8')) as { keystoreJson: string; keystorePassword: string };
  plain.fill(0);
  json.fill(0);
  return { pubKey: key.pubKey, keystoreJson, keystorePassword };
}

function seal(kek: Buffer, pubKey: string, keystoreJson: string, keystorePassword: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(pubKey));
  // Deflated first: a keystore is mostly hex and JSON, and the pool keeps every key in memory, in its
  // log and in its snapshots (about half the size at 100,000 keys). Nothing an attacker chooses is
  // compressed beside the secret, so the length tells nothing.
  const json = Buffer.from(JSON.stringify({ keystoreJson, keystorePassword }), 'utf8');
  const plain = deflateRawSync(json, { level: 9 });
  json.fill(0);
  const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  plain.fill(0);
  return `${SEAL_VERSION}:${sealed.toString('base64')}`;
}
