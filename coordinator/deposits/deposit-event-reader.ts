import { JsonRpcProvider } from 'ethers';
import { DepositError } from '../../shared/eth/deposit/index.js';
import type { DepositEventRecord } from './deposit-events.js';
import { scanDepositEvents, type ScanProgress } from './deposit-event-scan.js';
import type { DepositNetwork } from './deposit-network.js';
import type { DepositEventSource } from './chain-lookup.js';
import { rpcMessage } from './rpc-message.js';

/** Reads the deposit contract's DepositEvents for a pool that does not pay deposits itself (none, export). */
export class DepositEventReader implements DepositEventSource {
  readonly #provider: JsonRpcProvider;

  constructor(rpcUrl: string, private readonly network: DepositNetwork) {
    this.#provider = new JsonRpcProvider(rpcUrl, network.chainId, { staticNetwork: true, cacheTimeout: -1, batchMaxCount: 1 });
  }

  /** Refuses an endpoint of another chain: its events would say nothing about this network's keys. */
  async checkChain(): Promise<void> {
    const chainId = Number(BigInt((await this.#read('eth_chainId', () => this.#provider.send('eth_chainId', []))) as string));
    if (chainId !== this.network.chainId) {
      throw new DepositError('DEPOSIT_WRONG_CHAIN', `the Ethereum endpoint serves chain id ${chainId}, but network ${this.network.name} is chain id ${this.network.chainId}: point --eth-rpc-url at a ${this.network.name} node`);
    }
  }

  latestBlock(): Promise<number> {
    return this.#read('eth_blockNumber', () => this.#provider.getBlockNumber());
  }

  findDepositEvents(pubKeys: readonly string[], fromBlock: number, toBlock: number, onProgress?: ScanProgress): Promise<DepositEventRecord[]> {
    return scanDepositEvents(this.#provider, this.network.depositContractAddress, pubKeys, fromBlock, toBlock, onProgress);
  }

  close(): void {
    this.#provider.destroy();
  }

  async #read<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new DepositError('DEPOSIT_RPC', `the Ethereum endpoint failed ${what}: ${rpcMessage(error)}`, { cause: error });
    }
  }
}
