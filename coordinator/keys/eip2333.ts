import * as crypto from 'node:crypto';

/**
 * EIP-2333 BLS12-381 key derivation on Node's native SHA-256 and HKDF: a Lamport level costs ~1 ms of
 * CPU, where @chainsafe/bls-hd-key's JavaScript hashing took ~3 ms and allocated heavily. Secret keys
 * are 32-byte big-endian integers. Every intermediate secret this module makes (Lamport keys, HKDF
 * output, remainders) is zeroed before it returns; what native HKDF copies internally is beyond reach.
 */

const SECRET_KEY_BYTES = 32;
/** HKDF_mod_r's L: ceil(3 * ceil(log2(r)) / 16) bytes, so the reduction mod r is close to uniform. */
const HKDF_MOD_R_BYTES = 48;
/** 255 Lamport chunks of 32 bytes: HKDF-SHA256's maximum output. */
const LAMPORT_CHUNKS = 255;
const CHUNK_BYTES = 32;
const KEYGEN_SALT = Buffer.from('BLS-SIG-KEYGEN-SALT-', 'ascii');
/** key_info (empty) || I2OSP(L, 2). */
const HKDF_MOD_R_INFO = Buffer.from([0, HKDF_MOD_R_BYTES]);
/** r, the order of BLS12-381's G1/G2 subgroups, in little-endian 32-bit limbs. */
const R_LIMBS = Uint32Array.from([0x00000001, 0xffffffff, 0xfffe5bfe, 0x53bda402, 0x09a1d805, 0x3339d808, 0x299d7d48, 0x73eda753]);
const MAX_INDEX = 2 ** 32 - 1;

/** crypto.hash hashes in one call, about twice as fast as createHash (510 hashes a level); Node 20 has it from 20.12 on. */
const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'buffer') : (data) => crypto.createHash('sha256').update(data).digest();

/** derive_master_SK: the root of the tree grown from `seed` (at least 32 bytes, e.g. a BIP39 seed). */
export function deriveMasterSK(seed: Uint8Array): Uint8Array {
  if (seed.length < 32) throw new RangeError(`an EIP-2333 seed needs at least 32 bytes, not ${seed.length}: pass the 64-byte BIP39 seed of the mnemonic`);
  return hkdfModR(seed);
}

/** derive_child_SK: child `index` (0..2^32-1) of the node whose secret key is `parentSK`. */
export function deriveChildSK(parentSK: Uint8Array, index: number): Uint8Array {
  if (parentSK.length !== SECRET_KEY_BYTES) throw new RangeError(`an EIP-2333 parent secret key is ${SECRET_KEY_BYTES} bytes, not ${parentSK.length}`);
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_INDEX) throw new RangeError(`EIP-2333 child index ${index} is outside 0..2^32-1`);
  const compressedLamportPK = parentSKToLamportPK(parentSK, index);
  try {
    return hkdfModR(compressedLamportPK);
  } finally {
    compressedLamportPK.fill(0);
  }
}

/** The node `indices` below `parentSK` (whose buffer is left as it is), as a buffer of its own; the nodes between are zeroed. */
export function deriveChildSKPath(parentSK: Uint8Array, indices: readonly number[]): Uint8Array {
  let key: Uint8Array = Uint8Array.from(parentSK);
  try {
    for (const index of indices) {
      const child = deriveChildSK(key, index);
      key.fill(0);
      key = child;
    }
    return key;
  } catch (error) {
    key.fill(0);
    throw error;
  }
}

/** SHA-256 of the 510 Lamport secret chunks of the two trees, then SHA-256 of their concatenation. */
function parentSKToLamportPK(parentSK: Uint8Array, index: number): Buffer {
  const salt = Buffer.alloc(4);
  salt.writeUInt32BE(index);
  const notIkm = Buffer.alloc(SECRET_KEY_BYTES);
  for (let i = 0; i < SECRET_KEY_BYTES; i++) notIkm[i] = ~parentSK[i]! & 0xff;
  const lamportPK = Buffer.alloc(2 * LAMPORT_CHUNKS * CHUNK_BYTES);
  try {
    hashLamportChunks(parentSK, salt, lamportPK, 0);
    hashLamportChunks(notIkm, salt, lamportPK, LAMPORT_CHUNKS);
    return sha256(lamportPK);
  } finally {
    notIkm.fill(0);
    lamportPK.fill(0);
  }
}

/** IKM_to_lamport_SK, each chunk hashed into `out` from chunk `at` on. */
function hashLamportChunks(ikm: Uint8Array, salt: Buffer, out: Buffer, at: number): void {
  const lamportSK = new Uint8Array(crypto.hkdfSync('sha256', ikm, salt, Buffer.alloc(0), LAMPORT_CHUNKS * CHUNK_BYTES));
  try {
    for (let i = 0; i < LAMPORT_CHUNKS; i++) {
      const digest = sha256(lamportSK.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
      digest.copy(out, (at + i) * CHUNK_BYTES);
      digest.fill(0);
    }
  } finally {
    lamportSK.fill(0);
  }
}

/** HKDF_mod_r with an empty key_info: the salt is re-hashed until the key is not zero. */
function hkdfModR(ikm: Uint8Array): Uint8Array {
  const ikmWithZero = Buffer.alloc(ikm.length + 1);
  ikmWithZero.set(ikm);
  let salt: Buffer = KEYGEN_SALT;
  try {
    for (;;) {
      salt = sha256(salt);
      const okm = new Uint8Array(crypto.hkdfSync('sha256', ikmWithZero, salt, HKDF_MOD_R_INFO, HKDF_MOD_R_BYTES));
      const sk = reduceModR(okm);
      okm.fill(0);
      if (sk.some((byte) => byte !== 0)) return sk;
    }
  } finally {
    ikmWithZero.fill(0);
  }
}

/**
 * A big-endian integer mod r, as 32 big-endian bytes: bitwise long division in 32-bit limbs rather
 * than a BigInt, so that no copy of the secret outlives the call (a BigInt cannot be zeroed). The
 * conditional subtraction selects by mask, not by branch.
 */
function reduceModR(value: Uint8Array): Uint8Array {
  const remainder = new Uint32Array(8);
  const difference = new Uint32Array(8);
  for (let byte = 0; byte < value.length; byte++) {
    for (let bit = 7; bit >= 0; bit--) {
      // remainder < r < 2^255, so 2 * remainder + 1 fits 256 bits and is below 2r.
      let carry = (value[byte]! >>> bit) & 1;
      for (let limb = 0; limb < 8; limb++) {
        const shifted = remainder[limb]!;
        remainder[limb] = (shifted << 1) | carry;
        carry = shifted >>> 31;
      }
      let borrow = 0;
      for (let limb = 0; limb < 8; limb++) {
        const d = remainder[limb]! - R_LIMBS[limb]! - borrow;
        difference[limb] = d;
        borrow = Number(d < 0);
      }
      const keep = -borrow; // all ones when remainder < r
      for (let limb = 0; limb < 8; limb++) remainder[limb] = (remainder[limb]! & keep) | (difference[limb]! & ~keep);
    }
  }
  const out = new Uint8Array(SECRET_KEY_BYTES);
  for (let limb = 0; limb < 8; limb++) {
    const word = remainder[limb]!;
    const at = SECRET_KEY_BYTES - 4 * (limb + 1);
    out[at] = word >>> 24;
    out[at + 1] = word >>> 16;
    out[at + 2] = word >>> 8;
    out[at + 3] = word;
  }
  remainder.fill(0);
  difference.fill(0);
  return out;
}
