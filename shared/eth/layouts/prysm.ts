import { randomBytes } from 'node:crypto';
import { decryptKeystore, encryptKeystore, parseKeystore } from '../keystore.js';
import { defineLayout, LayoutError } from './engine.js';
import type { KeyToWrite } from './types.js';

/** Prysm's local ("imported", non-HD) keymanager directory inside the wallet, and its accounts file. */
export const PRYSM_WALLET_KEYSTORE = 'direct/accounts/all-accounts.keystore.json';
/** The wallet password this layout generates, for `--wallet-password-file`. */
export const PRYSM_WALLET_PASSWORD = 'wallet-password.txt';

/**
 * Prysm, `validator --wallet-dir=<outDir> --wallet-password-file=<outDir>/wallet-password.txt`: a wallet
 * with a single keymanager directory, `direct` (keymanager kind "direct"/"imported"/"local"), holding
 * `direct/accounts/all-accounts.keystore.json` as `validator accounts import` writes it
 * (prysm validator/keymanager/local/keymanager.go, validator/accounts/wallet/wallet.go):
 *
 *   { "crypto": <EIP-2335 crypto>, "uuid": …, "version": 4, "name": "keystore" }
 *
 * whose decrypted message is Go's JSON of `accountStore{PrivateKeys, PublicKeys [][]byte}`:
 * `{"private_keys": [base64(32-byte secret)…], "public_keys": [base64(48-byte pubkey)…]}` (Go encodes
 * []byte as padded standard base64), index i of one list matching index i of the other. The crypto is
 * pbkdf2 with 2^18 rounds, as Prysm's own encryptor (go-eth2-wallet-encryptor-keystorev4) makes it.
 * The wallet password is random and new on every write.
 */
export const prysmLayout = defineLayout({
  name: 'prysm',
  dirs: ['direct', 'direct/accounts'],
  slots: [],
  globalFiles: [PRYSM_WALLET_PASSWORD, PRYSM_WALLET_KEYSTORE],
  buildGlobals: async (_outDir, keys, checkpoint) => {
    const secrets: Uint8Array[] = [];
    let plaintext: Buffer | null = null;
    try {
      // One at a time: an scrypt keystore needs 256 MiB while it opens.
      for (const key of keys) {
        secrets.push(await openKeystore(key));
        checkpoint();
      }
      const publicKeys = keys.map((key) => Buffer.from(key.pubKey.slice(2), 'hex'));
      await checkKeyPairs(keys, secrets, publicKeys);
      plaintext = encodeAccountStore(secrets, publicKeys);
      const walletPassword = randomBytes(32).toString('base64url');
      const encrypted = await encryptKeystore(walletPassword, plaintext, '', '', { kdf: 'pbkdf2' });
      const wallet = { crypto: encrypted.crypto, uuid: encrypted.uuid, version: 4, name: 'keystore' };
      return [
        { path: PRYSM_WALLET_PASSWORD, content: walletPassword },
        { path: PRYSM_WALLET_KEYSTORE, content: JSON.stringify(wallet, null, '\t') },
      ];
    } finally {
      for (const secret of secrets) secret.fill(0);
      plaintext?.fill(0);
    }
  },
});

async function openKeystore(key: KeyToWrite): Promise<Uint8Array> {
  try {
    return await decryptKeystore(parseKeystore(key.keystoreJson), key.keystorePassword);
  } catch (cause) {
    throw new LayoutError('LAYOUT_KEY', `cannot open the keystore of ${key.pubKey} for the Prysm wallet: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Prysm pairs public_keys[i] with private_keys[i] without checking; a wrong pair would sign nothing valid. */
async function checkKeyPairs(keys: readonly KeyToWrite[], secrets: readonly Uint8Array[], publicKeys: readonly Uint8Array[]): Promise<void> {
  const { default: bls } = await import('@chainsafe/bls');
  for (const [i, key] of keys.entries()) {
    let derived: Uint8Array;
    try {
      derived = bls.SecretKey.fromBytes(secrets[i]!).toPublicKey().toBytes();
    } catch (cause) {
      throw new LayoutError('LAYOUT_KEY', `the keystore of ${key.pubKey} does not hold a BLS12-381 secret key`, { cause });
    }
    if (!Buffer.from(derived).equals(publicKeys[i]!)) {
      throw new LayoutError('LAYOUT_KEY', `the keystore handed over for ${key.pubKey} holds the secret key of another public key`);
    }
  }
}

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const QUOTE = 0x22;
const PAD = 0x3d;

/**
 * The account store's JSON, built straight into one zeroable buffer so no secret ever becomes an
 * (immutable, unzeroable) JS string.
 */
export function encodeAccountStore(privateKeys: readonly Uint8Array[], publicKeys: readonly Uint8Array[]): Buffer {
  const pieces: Array<string | Uint8Array> = ['{"private_keys":['];
  privateKeys.forEach((bytes, i) => pieces.push(...(i > 0 ? [',', bytes] : [bytes])));
  pieces.push('],"public_keys":[');
  publicKeys.forEach((bytes, i) => pieces.push(...(i > 0 ? [',', bytes] : [bytes])));
  pieces.push(']}');
  const size = pieces.reduce((n, piece) => n + (typeof piece === 'string' ? piece.length : 4 * Math.ceil(piece.length / 3) + 2), 0);
  const out = Buffer.alloc(size); // never from the shared pool, so filling it with zeros clears the only copy
  let at = 0;
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      at += out.write(piece, at, 'latin1');
    } else {
      out[at++] = QUOTE;
      at = writeBase64(out, at, piece);
      out[at++] = QUOTE;
    }
  }
  return out;
}

/** Standard, padded base64 (as Go's encoding/json writes []byte). */
function writeBase64(out: Buffer, start: number, bytes: Uint8Array): number {
  let at = start;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[at++] = BASE64[(n >>> 18) & 63]!;
    out[at++] = BASE64[(n >>> 12) & 63]!;
    out[at++] = BASE64[(n >>> 6) & 63]!;
    out[at++] = BASE64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[at++] = BASE64[(n >>> 18) & 63]!;
    out[at++] = BASE64[(n >>> 12) & 63]!;
    out[at++] = rest === 2 ? BASE64[(n >>> 6) & 63]! : PAD;
    out[at++] = PAD;
  }
  return at;
}
