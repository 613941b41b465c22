import bls from '@chainsafe/bls';
import { deriveChildSKMultiple, deriveMasterSK } from '@chainsafe/bls-hd-key';
import { mnemonicToSeedSync } from '@scure/bip39';

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

/** EIP-2333 derivation along EIP-2334's signing path. CPU-bound (~20 ms): call it off the event loop. */
export function deriveSigningKey(seed: Uint8Array, index: number): DerivedSigningKey {
  if (!Number.isSafeInteger(index) || index < 0 || index > MAX_DERIVATION_INDEX) throw new RangeError(`derivation index ${index} is outside 0..2^32-1`);
  const master = deriveMasterSK(seed);
  const privKey = deriveChildSKMultiple(master, [12381, 3600, index, 0, 0]);
  master.fill(0);
  const pubKey = bls.SecretKey.fromBytes(privKey).toPublicKey().toBytes();
  return { privKey, pubKey, path: signingKeyPath(index) };
}

export function pubKeyHex(pubKey: Uint8Array): string {
  return '0x' + Buffer.from(pubKey).toString('hex');
}
