import { Transaction, type Wallet } from 'ethers';
import { WEI_PER_GWEI, hexToBytes, verifyDeposit, type SignedDeposit } from '../../shared/eth/deposit/index.js';
import { DEPOSIT_CONTRACT_INTERFACE } from './deposit-contract-abi.js';
import type { DepositNetwork } from './deposit-network.js';

/**
 * Gas limit of every deposit transaction. Fixed rather than estimated so a signed transaction stays
 * valid whenever it is (re-)broadcast: the contract's Merkle insertion climbs as many tree levels as the
 * deposit count then has trailing one bits, which is not known at signing time. Measured on our contract:
 * ~54k gas plus ~3k per level climbed plus ~17k when a level is first written, so ~165k for the worst
 * case of 31 levels; the official contract does the same work per level. Unused gas is not charged.
 */
export const DEPOSIT_GAS_LIMIT = 200_000n;

export interface DepositFees {
  readonly maxFeePerGas: bigint;
  readonly maxPriorityFeePerGas: bigint;
}

export interface SignedDepositTx {
  /** The signed EIP-1559 transaction, 0x hex: what is committed before broadcast and re-broadcast as is. */
  readonly rawTx: string;
  readonly txHash: string;
  readonly nonce: number;
}

export function depositValueWei(deposit: SignedDeposit): bigint {
  return BigInt(deposit.amountGwei) * WEI_PER_GWEI;
}

export function depositCallData(deposit: SignedDeposit): string {
  return DEPOSIT_CONTRACT_INTERFACE.encodeFunctionData('deposit', [deposit.pubKey, deposit.withdrawalCredentials, deposit.signature, deposit.depositDataRoot]);
}

/**
 * Signs (does not send) the transaction that makes `deposit` on `network`. The deposit is verified
 * against the network's fork version first: a deposit with a wrong signature would still take the ETH.
 */
export async function signDepositTransaction(fundingWallet: Wallet, deposit: SignedDeposit, network: DepositNetwork, nonce: number, fees: DepositFees): Promise<SignedDepositTx> {
  verifyDeposit(deposit, hexToBytes(network.genesisForkVersion, 4, 'genesis fork version'));
  const rawTx = await fundingWallet.signTransaction({
    type: 2,
    chainId: network.chainId,
    nonce,
    to: network.depositContractAddress,
    value: depositValueWei(deposit),
    data: depositCallData(deposit),
    gasLimit: DEPOSIT_GAS_LIMIT,
    maxFeePerGas: fees.maxFeePerGas,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
  });
  return { rawTx, txHash: Transaction.from(rawTx).hash!, nonce };
}
