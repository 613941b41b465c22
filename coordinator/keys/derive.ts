import bls from '@chainsafe/bls';
import { mnemonicToSeedSync } from '@scure/bip39';
import { deriveChildSKPath, deriveMasterSK } from './eip2333.js';

/** EIP-2334 signing key of validator `index`. */
export const signingKeyPath = (index: number) => `m/12381/3600/${index}/0/0`;

/** EIP-2333 allows indices up to 2^32 - 1. */
export const MAX_DERIVATION_INDEX = 2 ** 32 - 1;

/** The BIP39 seed of a mnemonic, without passphrase, as staking-deposit-cli derives it. */
export function mnemonicToSeed(mnemonic: string): Uint8Array {
  return mnemonicToSeedSync(mnemonic);
}

export interface DerivedSigningKey {
  /** Zero it (`fill(0)`) once used. */
  readonly privKey: Uint8Array;
  readonly pubKey: Uint8Array;
  readonly path: string;
}

/** EIP-2334's purpose and coin type: every validator's keys descend from m/12381/3600. */
const VALIDATOR_ROOT_PATH = [12381, 3600];

/**
 * The secret key of m/12381/3600, from which every validator key of `seed` descends: derive it once
 * for many keys (it is two of the five Lamport levels of a key's path), and zero it (`fill(0)`) once done.
 */
export function deriveValidatorRootKey(seed: Uint8Array): Uint8Array {
  const master = deriveMasterSK(seed);
  try {
    return deriveChildSKPath(master, VALIDATOR_ROOT_PATH);
  } finally {
    master.fill(0);
  }
}

/** The signing key of validator `index`, m/12381/3600/index/0/0, below the root key of `deriveValidatorRootKey`. CPU-bound (a few ms). */
export function deriveSigningKeyFromRoot(rootKey: Uint8Array, index: number): DerivedSigningKey {
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_DERIVATION_INDEX) throw new RangeError(`derivation index ${index} is outside 0..2^32-1`);
  const privKey = deriveChildSKPath(rootKey, [index, 0, 0]);
  const pubKey = bls.SecretKey.fromBytes(privKey).toPublicKey().toBytes();
  return { privKey, pubKey, path: signingKeyPath(index) };
}

/** EIP-2333 derivation along EIP-2334's signing path (~6 ms of CPU). For many keys of one seed, derive the root key once instead. */
export function deriveSigningKey(seed: Uint8Array, index: number): DerivedSigningKey {
  const rootKey = deriveValidatorRootKey(seed);
  try {
    return deriveSigningKeyFromRoot(rootKey, index);
  } finally {
    rootKey.fill(0);
  }
}

export function pubKeyHex(pubKey: Uint8Array): string {
  return '0x' + Buffer.from(pubKey).toString('hex');
}
