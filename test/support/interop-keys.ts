import bls from '@chainsafe/bls';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encryptKeystore } from '../../shared/eth/keystore.js';

/** The BLS12-381 group order r: interop secret keys are reduced modulo it. */
const CURVE_ORDER = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;

/**
 * The interop (dev chain) secret key of validator `index`, as 32 big-endian bytes: sha256 of the index as
 * 32 little-endian bytes, read as a little-endian integer, mod r. `lodestar dev --genesisValidators N`
 * makes its genesis from these keys (validator 0's public key is 0xa99a76ed…).
 */
export function interopSecretKey(index: number): Uint8Array {
  const preimage = Buffer.alloc(32);
  preimage.writeUInt32LE(index, 0);
  const scalar = BigInt('0x' + Buffer.from(createHash('sha256').update(preimage).digest()).reverse().toString('hex')) % CURVE_ORDER;
  return Uint8Array.from(Buffer.from(scalar.toString(16).padStart(64, '0'), 'hex'));
}

/** The 0x-prefixed compressed public key of interop validator `index`. */
export function interopPubkey(index: number): string {
  return '0x' + Buffer.from(bls.SecretKey.fromBytes(interopSecretKey(index)).toPublicKey().toBytes()).toString('hex');
}

/** Signs a 32-byte root with interop validator `index`'s key; returns the 0x-prefixed signature. */
export function interopSign(index: number, root: Uint8Array): string {
  return '0x' + Buffer.from(bls.SecretKey.fromBytes(interopSecretKey(index)).sign(root).toBytes()).toString('hex');
}

/**
 * Writes interop validators `indices` as EIP-2335 keystores encrypted with `password`, named the way the
 * staking deposit CLI names them (with an empty deposit_data file beside them), so `keylease import
 * --keystores DIR` takes the folder as it takes one made for a real network. Returns the public keys in
 * the order given.
 */
export async function writeInteropKeystores(dir: string, indices: readonly number[], password: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const pubkeys: string[] = [];
  for (const index of indices) {
    const pubkey = interopPubkey(index);
    const keystore = await encryptKeystore(password, interopSecretKey(index), pubkey, `m/12381/3600/${index}/0/0`);
    await writeFile(join(dir, `keystore-m_12381_3600_${index}_0_0-1700000000.json`), JSON.stringify(keystore));
    pubkeys.push(pubkey);
  }
  await writeFile(join(dir, 'deposit_data-1700000000.json'), '[]');
  return pubkeys;
}
