import { createCipheriv, createDecipheriv, createHash, pbkdf2, pbkdf2Sync, randomBytes, randomUUID, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { KeystoreError } from './errors.js';

/**
 * EIP-2335 keystores. The KDF runs on libuv's thread pool (async `crypto.scrypt` / `crypto.pbkdf2`),
 * so decrypting or encrypting a keystore never blocks the event loop that answers renewals.
 */
export interface Eip2335Keystore {
  readonly crypto: {
    readonly kdf: KdfModule;
    readonly checksum: { readonly function: 'sha256'; readonly params: Record<string, never>; readonly message: string };
    readonly cipher: { readonly function: 'aes-128-ctr'; readonly params: { readonly iv: string }; readonly message: string };
  };
  readonly description?: string;
  readonly pubkey?: string;
  readonly path: string;
  readonly uuid: string;
  readonly version: 4;
}

export type KdfModule =
  | { readonly function: 'scrypt'; readonly params: { dklen: number; n: number; r: number; p: number; salt: string }; readonly message: '' }
  | { readonly function: 'pbkdf2'; readonly params: { dklen: number; c: number; prf: 'hmac-sha256'; salt: string }; readonly message: '' };

export interface EncryptOptions {
  /** pbkdf2 (default, ~55 ms at c=2^18) or scrypt (~0.9 s and 256 MiB at n=2^18). */
  readonly kdf?: 'pbkdf2' | 'scrypt';
  /**
   * pbkdf2 iterations, 2^18 unless given. Fewer protect the key less: only for keystores made in bulk
   * for benchmarks, never for keys that guard funds.
   */
  readonly pbkdf2Iterations?: number;
}

const PBKDF2_ITERATIONS = 2 ** 18;
const SCRYPT_N = 2 ** 18;
/** Upper bounds on what a keystore may ask of us, so a hostile file cannot exhaust memory or CPU. */
const MAX_SCRYPT_MEMORY_BYTES = 1024 * 1024 * 1024;
const MAX_PBKDF2_ITERATIONS = 2 ** 24;

const HEX = /^[0-9a-f]*$/i;
const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (password: Buffer, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/**
 * EIP-2335 password processing: NFKD, then C0 (0x00-0x1f), DEL (0x7f) and C1 (0x80-0x9f) control
 * codes removed, then UTF-8.
 */
export function normalizeKeystorePassword(password: string): Buffer {
  return Buffer.from(password.normalize('NFKD').replace(/[\u0000-\u001f\u007f-\u009f]/g, ''), 'utf8');
}

/** Parses and checks the structure of a keystore; the error names the field that is wrong. */
export function parseKeystore(json: string): Eip2335Keystore {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw formatError('it is not valid JSON');
  }
  const ks = value as Record<string, any>;
  if (typeof ks !== 'object' || ks === null) throw formatError('it is not a JSON object');
  if (ks['version'] !== 4) throw formatError(`version is ${JSON.stringify(ks['version'])}, not 4 (EIP-2335)`);
  if (typeof ks['path'] !== 'string') throw formatError('path is missing');
  if (typeof ks['uuid'] !== 'string') throw formatError('uuid is missing');
  if (ks['pubkey'] !== undefined && (typeof ks['pubkey'] !== 'string' || !/^(0x)?[0-9a-f]{96}$/i.test(ks['pubkey']))) throw formatError('pubkey is not 48 bytes of hex');
  const crypto = ks['crypto'];
  if (typeof crypto !== 'object' || crypto === null) throw formatError('crypto is missing');
  checkKdf(crypto['kdf']);
  const checksum = crypto['checksum'];
  if (checksum?.function !== 'sha256' || !isHex(checksum.message, 32)) throw formatError('checksum must be sha256 with a 32-byte message');
  const cipher = crypto['cipher'];
  if (cipher?.function !== 'aes-128-ctr') throw formatError(`cipher ${JSON.stringify(cipher?.function)} is not aes-128-ctr`);
  if (!isHex(cipher.params?.iv, 16)) throw formatError('cipher iv must be 16 bytes of hex');
  if (typeof cipher.message !== 'string' || !HEX.test(cipher.message) || cipher.message.length === 0 || cipher.message.length % 2 !== 0) {
    throw formatError('cipher message must be hex');
  }
  return ks as Eip2335Keystore;
}

function checkKdf(kdf: any): void {
  const params = kdf?.params;
  if (params?.dklen !== 32) throw formatError('kdf dklen must be 32');
  if (typeof params.salt !== 'string' || !HEX.test(params.salt) || params.salt.length % 2 !== 0) throw formatError('kdf salt must be hex');
  if (kdf.function === 'scrypt') {
    const { n, r, p } = params;
    if (![n, r, p].every((v) => Number.isSafeInteger(v) && v > 0) || (n & (n - 1)) !== 0 || n < 2) throw formatError('scrypt n must be a power of two and r, p positive integers');
    if (128 * n * r * p > MAX_SCRYPT_MEMORY_BYTES) throw formatError('scrypt parameters ask for more than 1 GiB of memory');
  } else if (kdf.function === 'pbkdf2') {
    if (params.prf !== 'hmac-sha256') throw formatError('pbkdf2 prf must be hmac-sha256');
    if (!Number.isSafeInteger(params.c) || params.c < 1 || params.c > MAX_PBKDF2_ITERATIONS) throw formatError(`pbkdf2 c must be between 1 and ${MAX_PBKDF2_ITERATIONS}`);
  } else {
    throw formatError(`kdf ${JSON.stringify(kdf?.function)} is neither scrypt nor pbkdf2`);
  }
}

/** Returns the secret; throws KEYSTORE_PASSWORD when the checksum shows the password is wrong. */
export async function decryptKeystore(keystore: Eip2335Keystore, password: string): Promise<Uint8Array> {
  const decryptionKey = await deriveDecryptionKey(keystore.crypto.kdf, normalizeKeystorePassword(password));
  try {
    const cipherMessage = Buffer.from(keystore.crypto.cipher.message, 'hex');
    const checksum = createHash('sha256').update(decryptionKey.subarray(16, 32)).update(cipherMessage).digest();
    if (!timingSafeEqual(checksum, Buffer.from(keystore.crypto.checksum.message, 'hex'))) {
      throw new KeystoreError('KEYSTORE_PASSWORD', 'the keystore does not decrypt with the password given (checksum mismatch): check the password file');
    }
    const decipher = createDecipheriv('aes-128-ctr', decryptionKey.subarray(0, 16), Buffer.from(keystore.crypto.cipher.params.iv, 'hex'));
    return new Uint8Array(Buffer.concat([decipher.update(cipherMessage), decipher.final()]));
  } finally {
    decryptionKey.fill(0);
  }
}

export async function encryptKeystore(password: string, secret: Uint8Array, pubKey: Uint8Array | string, path: string, options: EncryptOptions = {}): Promise<Eip2335Keystore> {
  const kdf = newKdfModule(options);
  return assembleKeystore(kdf, await deriveDecryptionKey(kdf, normalizeKeystorePassword(password)), secret, pubKey, path);
}

/**
 * encryptKeystore with the KDF on the calling thread, which it blocks (~70 ms at c=2^18): for worker
 * threads only. libuv's pool, where the async KDF runs, is one per process and has 4 threads: worker
 * threads that hand their KDFs to it use at most 4 cores, and crowd out the file and LevelDB work of
 * the event loop.
 */
export function encryptKeystoreSync(password: string, secret: Uint8Array, pubKey: Uint8Array | string, path: string, options: EncryptOptions = {}): Eip2335Keystore {
  const kdf = newKdfModule(options);
  return assembleKeystore(kdf, deriveDecryptionKeySync(kdf, normalizeKeystorePassword(password)), secret, pubKey, path);
}

function newKdfModule(options: EncryptOptions): KdfModule {
  const salt = randomBytes(32).toString('hex');
  return options.kdf === 'scrypt'
    ? { function: 'scrypt', params: { dklen: 32, n: SCRYPT_N, r: 8, p: 1, salt }, message: '' }
    : { function: 'pbkdf2', params: { dklen: 32, c: options.pbkdf2Iterations ?? PBKDF2_ITERATIONS, prf: 'hmac-sha256', salt }, message: '' };
}

/** Encrypts `secret` under the KDF's output, which it zeroes. */
function assembleKeystore(kdf: KdfModule, decryptionKey: Buffer, secret: Uint8Array, pubKey: Uint8Array | string, path: string): Eip2335Keystore {
  try {
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-ctr', decryptionKey.subarray(0, 16), iv);
    const cipherMessage = Buffer.concat([cipher.update(secret), cipher.final()]);
    const checksum = createHash('sha256').update(decryptionKey.subarray(16, 32)).update(cipherMessage).digest('hex');
    return {
      crypto: {
        kdf,
        checksum: { function: 'sha256', params: {}, message: checksum },
        cipher: { function: 'aes-128-ctr', params: { iv: iv.toString('hex') }, message: cipherMessage.toString('hex') },
      },
      description: '',
      pubkey: typeof pubKey === 'string' ? pubKey.replace(/^0x/, '').toLowerCase() : Buffer.from(pubKey).toString('hex'),
      path,
      uuid: randomUUID(),
      version: 4,
    };
  } finally {
    decryptionKey.fill(0);
  }
}

async function deriveDecryptionKey(kdf: KdfModule, password: Buffer): Promise<Buffer> {
  const salt = Buffer.from(kdf.params.salt, 'hex');
  try {
    if (kdf.function === 'pbkdf2') return await pbkdf2Async(password, salt, kdf.params.c, kdf.params.dklen, 'sha256');
    const { n, r, p, dklen } = kdf.params;
    return await scryptAsync(password, salt, dklen, { N: n, r, p, maxmem: scryptMaxmem(kdf.params) });
  } finally {
    password.fill(0);
  }
}

function deriveDecryptionKeySync(kdf: KdfModule, password: Buffer): Buffer {
  const salt = Buffer.from(kdf.params.salt, 'hex');
  try {
    if (kdf.function === 'pbkdf2') return pbkdf2Sync(password, salt, kdf.params.c, kdf.params.dklen, 'sha256');
    const { n, r, p, dklen } = kdf.params;
    return scryptSync(password, salt, dklen, { N: n, r, p, maxmem: scryptMaxmem(kdf.params) });
  } finally {
    password.fill(0);
  }
}

const scryptMaxmem = ({ n, r, p }: { n: number; r: number; p: number }) => 128 * n * r * p + 64 * 1024 * 1024;

function isHex(value: unknown, bytes: number): value is string {
  return typeof value === 'string' && value.length === bytes * 2 && HEX.test(value);
}

function formatError(why: string): KeystoreError {
  return new KeystoreError('KEYSTORE_FORMAT', `not an EIP-2335 keystore: ${why}`);
}
