import type { Log } from 'ethers';
import { DepositData, prefixedHex } from '../../shared/eth/deposit/index.js';
import { DEPOSIT_CONTRACT_INTERFACE } from './deposit-contract-abi.js';

/** A DepositEvent as the chain recorded it, decoded. Hex is 0x-prefixed lower case. */
export interface DepositEventRecord {
  readonly pubKey: string;
  readonly withdrawalCredentials: string;
  readonly amountGwei: number;
  readonly signature: string;
  /** Position in the deposit contract's tree (0-based), as the beacon chain will number it. */
  readonly depositIndex: number;
  /** Root of the DepositData the event carries: equal to the committed deposit's if it is ours. */
  readonly depositDataRoot: string;
  readonly txHash: string;
  readonly blockNumber: number;
  readonly logIndex: number;
}

export function decodeDepositEvent(log: Log): DepositEventRecord {
  const parsed = DEPOSIT_CONTRACT_INTERFACE.parseLog({ topics: [...log.topics], data: log.data });
  if (parsed?.name !== 'DepositEvent') throw new Error(`log ${log.transactionHash}:${log.index} is not a DepositEvent`);
  const [pubkey, withdrawalCredentials, amount, signature, index] = parsed.args as unknown as [string, string, string, string, string];
  const amountGwei = littleEndianUint64(amount);
  const depositDataRoot = DepositData.hashTreeRoot({
    pubkey: hexBytes(pubkey),
    withdrawalCredentials: hexBytes(withdrawalCredentials),
    amount: amountGwei,
    signature: hexBytes(signature),
  });
  return {
    pubKey: pubkey.toLowerCase(),
    withdrawalCredentials: withdrawalCredentials.toLowerCase(),
    amountGwei,
    signature: signature.toLowerCase(),
    depositIndex: littleEndianUint64(index),
    depositDataRoot: prefixedHex(depositDataRoot),
    txHash: log.transactionHash,
    blockNumber: log.blockNumber,
    logIndex: log.index,
  };
}

/** The contract encodes amount and index as 8 bytes, little-endian (SSZ's uint64 encoding). */
function littleEndianUint64(hex: string): number {
  const bytes = hexBytes(hex);
  if (bytes.length !== 8) throw new Error(`expected 8 little-endian bytes, got ${bytes.length}`);
  const value = Buffer.from(bytes).readBigUInt64LE(0);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`uint64 ${value} exceeds 2^53`);
  return Number(value);
}

function hexBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/^0x/, ''), 'hex'));
}
