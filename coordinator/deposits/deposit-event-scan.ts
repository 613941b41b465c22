import type { JsonRpcProvider } from 'ethers';
import { DepositError, hexToBytes, prefixedHex } from '../../shared/eth/deposit/index.js';
import { DEPOSIT_EVENT_TOPIC } from './deposit-contract-abi.js';
import { decodeDepositEvent, type DepositEventRecord } from './deposit-events.js';
import { rpcMessage } from './rpc-message.js';

/** Many RPC providers refuse eth_getLogs over more blocks than this at once. */
const LOG_BLOCK_RANGE = 10_000;

export type ScanProgress = (blocksDone: number, blocksTotal: number) => void;

/**
 * The deposit contract's DepositEvents for `pubKeys` in blocks `fromBlock..toBlock`, oldest first:
 * what the beacon chain will credit, whoever sent it. The pubkey is not an indexed topic, so every
 * DepositEvent of the range is read and filtered here, a block range at a time.
 */
export async function scanDepositEvents(
  provider: JsonRpcProvider,
  contractAddress: string,
  pubKeys: readonly string[],
  fromBlock: number,
  toBlock: number,
  onProgress?: ScanProgress,
): Promise<DepositEventRecord[]> {
  const wanted = new Set(pubKeys.map((pubKey) => prefixedHex(hexToBytes(pubKey, 48, 'validator pubkey'))));
  const found: DepositEventRecord[] = [];
  if (wanted.size === 0 || toBlock < fromBlock) return found;
  const total = toBlock - fromBlock + 1;
  for (let from = fromBlock; from <= toBlock; from += LOG_BLOCK_RANGE) {
    const to = Math.min(from + LOG_BLOCK_RANGE - 1, toBlock);
    let logs;
    try {
      logs = await provider.getLogs({ address: contractAddress, topics: [DEPOSIT_EVENT_TOPIC], fromBlock: from, toBlock: to });
    } catch (error) {
      // The endpoint URL, which may hold an API key, is never named.
      throw new DepositError('DEPOSIT_RPC', `the Ethereum endpoint failed eth_getLogs for blocks ${from}..${to}: ${rpcMessage(error)}`, { cause: error });
    }
    for (const log of logs) {
      const event = decodeDepositEvent(log);
      if (wanted.has(event.pubKey)) found.push(event);
    }
    onProgress?.(to - fromBlock + 1, total);
  }
  return found;
}
