import bls from '@chainsafe/bls';
import { computeDepositDomain, computeSigningRoot } from './domain.js';
import { DepositError } from './errors.js';
import { bareHex } from './hex.js';
import { DepositData, DepositMessage } from './ssz-types.js';

/** What a validator deposit of the full activation balance is: 32 ETH, in gwei. */
export const FULL_DEPOSIT_GWEI = 32_000_000_000;
export const WEI_PER_GWEI = 1_000_000_000n;

/** A signed deposit and the roots that identify it, for one network (its genesis fork version). */
export interface SignedDeposit {
  readonly pubKey: Uint8Array;
  readonly withdrawalCredentials: Uint8Array;
  readonly amountGwei: number;
  readonly signature: Uint8Array;
  /** Root of DepositMessage (what was signed, before the domain); the Launchpad checks it. */
  readonly depositMessageRoot: Uint8Array;
  /** Root of DepositData: the deposit contract recomputes it and reverts on mismatch. */
  readonly depositDataRoot: Uint8Array;
  readonly genesisForkVersion: Uint8Array;
}

export interface DepositRequest {
  /** The validator's signing key; the caller zeroes it afterwards. */
  readonly privKey: Uint8Array;
  readonly withdrawalCredentials: Uint8Array;
  readonly amountGwei: number;
  readonly genesisForkVersion: Uint8Array;
}

/** Signs DepositMessage under the deposit domain of the network, as staking-deposit-cli does. */
export function signDeposit(request: DepositRequest): SignedDeposit {
  const secretKey = bls.SecretKey.fromBytes(request.privKey);
  const message = { pubkey: secretKey.toPublicKey().toBytes(), withdrawalCredentials: request.withdrawalCredentials, amount: request.amountGwei };
  const depositMessageRoot = DepositMessage.hashTreeRoot(message);
  const signature = secretKey.sign(computeSigningRoot(depositMessageRoot, computeDepositDomain(request.genesisForkVersion))).toBytes();
  return {
    pubKey: message.pubkey,
    withdrawalCredentials: message.withdrawalCredentials,
    amountGwei: message.amount,
    signature,
    depositMessageRoot,
    depositDataRoot: DepositData.hashTreeRoot({ ...message, signature }),
    genesisForkVersion: request.genesisForkVersion,
  };
}

/**
 * Refuses a deposit that the beacon chain of `genesisForkVersion` would not credit: signed for another
 * fork version, a signature that does not verify, or roots that do not match the fields. Call it before
 * anything is sent: a deposit with a bad signature still takes the ETH.
 */
export function verifyDeposit(deposit: SignedDeposit, genesisForkVersion: Uint8Array): void {
  const pubKeyHex = bareHex(deposit.pubKey);
  if (bareHex(deposit.genesisForkVersion) !== bareHex(genesisForkVersion)) {
    throw new DepositError(
      'DEPOSIT_WRONG_FORK',
      `the deposit for ${pubKeyHex} was signed for fork version 0x${bareHex(deposit.genesisForkVersion)}, but this network's genesis fork version is 0x${bareHex(genesisForkVersion)}: regenerate the deposit for this network`,
    );
  }
  const message = { pubkey: deposit.pubKey, withdrawalCredentials: deposit.withdrawalCredentials, amount: deposit.amountGwei };
  const depositMessageRoot = DepositMessage.hashTreeRoot(message);
  const depositDataRoot = DepositData.hashTreeRoot({ ...message, signature: deposit.signature });
  if (bareHex(depositMessageRoot) !== bareHex(deposit.depositMessageRoot) || bareHex(depositDataRoot) !== bareHex(deposit.depositDataRoot)) {
    throw new DepositError('DEPOSIT_ROOT_MISMATCH', `the deposit for ${pubKeyHex} carries roots that do not match its fields: it was altered or built wrongly`);
  }
  const signingRoot = computeSigningRoot(depositMessageRoot, computeDepositDomain(genesisForkVersion));
  if (!signatureVerifies(deposit.pubKey, signingRoot, deposit.signature)) {
    throw new DepositError('DEPOSIT_BAD_SIGNATURE', `the deposit signature for ${pubKeyHex} does not verify under fork version 0x${bareHex(genesisForkVersion)}`);
  }
}

function signatureVerifies(pubKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return bls.verify(pubKey, message, signature);
  } catch {
    // Bytes that are not a curve point: as unverifiable as a wrong signature.
    return false;
  }
}
