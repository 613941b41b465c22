import { JsonRpcProvider, Transaction, Wallet } from 'ethers';
import { DepositError, FULL_DEPOSIT_GWEI, WEI_PER_GWEI, type SignedDeposit } from '../../shared/eth/deposit/index.js';
import type { DepositEventRecord } from './deposit-events.js';
import { scanDepositEvents, type ScanProgress } from './deposit-event-scan.js';
import { rpcMessage } from './rpc-message.js';
import type { DepositNetwork } from './deposit-network.js';
import { DEPOSIT_GAS_LIMIT, depositCallData, depositValueWei, signDepositTransaction, type SignedDepositTx } from './deposit-transaction.js';
import { assertAffordable, assertWithinDailyCap } from './funding-guards.js';

export interface DepositSenderOptions {
  /** JSON-RPC endpoint of an execution node of `network`. */
  readonly rpcUrl: string;
  /** 0x-prefixed secp256k1 key of the wallet that pays for deposits. Kept private to this object. */
  readonly fundingPrivKey: string;
  readonly network: DepositNetwork;
  readonly maxDepositsPerDay: number;
}

export interface SignDepositsRequest {
  readonly deposits: readonly SignedDeposit[];
  /**
   * Nonce of the first transaction; the rest follow. The caller takes the larger of `pendingNonce()` and
   * one past the last nonce it committed, so re-signing never reuses a nonce of a committed transaction.
   */
  readonly firstNonce: number;
  readonly depositsInLast24h: number;
}

/**
 * Makes deposits on one network from one funding wallet, in the steps S4 needs kept apart: sign (nothing
 * leaves the process), broadcast (idempotent), then watch confirmations and the contract's events.
 * Knows nothing of Raft; every refusal happens before anything is sent.
 */
export class DepositSender {
  readonly fundingAddress: string;
  readonly #wallet: Wallet;
  readonly #provider: JsonRpcProvider;
  readonly #network: DepositNetwork;
  readonly #maxDepositsPerDay: number;

  constructor(options: DepositSenderOptions) {
    this.#wallet = new Wallet(options.fundingPrivKey);
    this.fundingAddress = this.#wallet.address;
    // Every read fresh: ethers otherwise shares identical requests for 250 ms, and a stale nonce or
    // receipt is exactly what must not decide a deposit. No batching: our calls are sequential, and
    // ethers would hold each one back 10 ms waiting for company.
    this.#provider = new JsonRpcProvider(options.rpcUrl, options.network.chainId, { staticNetwork: true, cacheTimeout: -1, batchMaxCount: 1 });
    this.#network = options.network;
    this.#maxDepositsPerDay = options.maxDepositsPerDay;
  }

  /** Releases the JSON-RPC connection. */
  close(): void {
    this.#provider.destroy();
  }

  /** Refuses an endpoint that serves another chain, or has no contract at the deposit address. */
  async checkChain(): Promise<void> {
    // Asked of the node each time: a provider's cached network would not notice a repointed endpoint.
    const chainId = Number(BigInt(await this.#rpc<string>('eth_chainId', [])));
    if (chainId !== this.#network.chainId) {
      throw new DepositError('DEPOSIT_WRONG_CHAIN', `the Ethereum endpoint serves chain id ${chainId}, but network ${this.#network.name} is chain id ${this.#network.chainId}: point the deposit RPC at a ${this.#network.name} node; nothing was sent`);
    }
    const code = await this.#rpc<string>('eth_getCode', [this.#network.depositContractAddress, 'latest']);
    if (code === '0x') {
      throw new DepositError('DEPOSIT_WRONG_CHAIN', `there is no contract at ${this.#network.depositContractAddress} on chain id ${chainId}, the deposit contract address of ${this.#network.name}; nothing was sent`);
    }
  }

  /** The funding wallet's next nonce as the node sees it (mined and pooled transactions). */
  async pendingNonce(): Promise<number> {
    return this.#read('eth_getTransactionCount', () => this.#provider.getTransactionCount(this.fundingAddress, 'pending'));
  }

  /**
   * Checks the chain, the daily cap and the balance, signs one transaction per deposit (refusing any
   * deposit not valid on this network), and dry-runs the first against the contract. Nothing is
   * broadcast: commit the results, then `broadcast` them.
   */
  async signDeposits(request: SignDepositsRequest): Promise<SignedDepositTx[]> {
    const { deposits } = request;
    if (deposits.length === 0) return [];
    await this.checkChain();
    assertWithinDailyCap({ depositsInLast24h: request.depositsInLast24h, requested: deposits.length, maxDepositsPerDay: this.#maxDepositsPerDay });
    const fees = await this.#fees();
    const balanceWei = await this.fundingBalanceWei();
    assertAffordable({
      fundingAddress: this.fundingAddress,
      balanceWei,
      depositCount: deposits.length,
      totalValueWei: deposits.reduce((sum, deposit) => sum + depositValueWei(deposit), 0n),
      maxGasCostWei: DEPOSIT_GAS_LIMIT * fees.maxFeePerGas,
    });

    // Signing verifies each deposit against the network's fork version; it sends nothing.
    const signed: SignedDepositTx[] = [];
    for (const [i, deposit] of deposits.entries()) {
      signed.push(await signDepositTransaction(this.#wallet, deposit, this.#network, request.firstNonce + i, fees));
    }
    await this.#dryRun(deposits[0]!);
    return signed;
  }

  /**
   * Sends a signed transaction. Idempotent: if the node already has it (pooled or mined, e.g. a
   * re-broadcast by a new leader) that is success. A nonce spent by another transaction is not.
   */
  async broadcast(rawTx: string): Promise<string> {
    const txHash = signedTxHash(rawTx);
    try {
      await this.#provider.send('eth_sendRawTransaction', [rawTx]);
      return txHash;
    } catch (error) {
      const message = rpcMessage(error);
      if (/already known|known transaction/i.test(message) || (await this.#isKnown(txHash))) return txHash;
      if (/nonce too low|nonce has already been used/i.test(message)) {
        throw new DepositError('DEPOSIT_NONCE_CONFLICT', `deposit transaction ${txHash} can never be mined: another transaction of ${this.fundingAddress} used its nonce (${message})`, { cause: error });
      }
      throw new DepositError('DEPOSIT_RPC', `broadcasting deposit transaction ${txHash} failed: ${message}`, { cause: error });
    }
  }

  /** Blocks on top of the transaction's, itself included; 0 while it is not mined. Throws if it reverted. */
  async confirmations(txHash: string): Promise<number> {
    return (await this.inclusion(txHash)).confirmations;
  }

  /** Where the transaction was mined (null while it is not) and how deep it is now. Throws if it reverted. */
  async inclusion(txHash: string): Promise<{ blockNumber: number | null; confirmations: number }> {
    const receipt = await this.#read('eth_getTransactionReceipt', () => this.#provider.getTransactionReceipt(txHash));
    if (receipt === null) return { blockNumber: null, confirmations: 0 };
    if (receipt.status !== 1) throw new DepositError('DEPOSIT_REVERTED', `deposit transaction ${txHash} reverted in block ${receipt.blockNumber}; its ETH was not deposited`);
    return { blockNumber: receipt.blockNumber, confirmations: await this.#read('eth_blockNumber', () => receipt.confirmations()) };
  }

  /** The latest block number, from which the reconciler looks back. */
  async latestBlock(): Promise<number> {
    return this.#read('eth_blockNumber', () => this.#provider.getBlockNumber());
  }

  /**
   * The deposit contract's DepositEvents for `pubKeys` from `fromBlock` on: what the beacon chain will
   * credit, whoever sent it. Reconciliation compares them with the deposits committed as sent.
   */
  async findDepositEvents(pubKeys: readonly string[], fromBlock: number, toBlock?: number, onProgress?: ScanProgress): Promise<DepositEventRecord[]> {
    const latest = toBlock ?? (await this.latestBlock());
    return scanDepositEvents(this.#provider, this.#network.depositContractAddress, pubKeys, fromBlock, latest, onProgress);
  }

  /** The funding wallet's balance, counting pooled transactions. */
  async fundingBalanceWei(): Promise<bigint> {
    return this.#read('eth_getBalance', () => this.#provider.getBalance(this.fundingAddress, 'pending'));
  }

  /** Refuses a funding wallet that cannot pay even one deposit and its gas. */
  async assertCanPayOneDeposit(): Promise<void> {
    const fees = await this.#fees();
    assertAffordable({ fundingAddress: this.fundingAddress, balanceWei: await this.fundingBalanceWei(), depositCount: 1, totalValueWei: BigInt(FULL_DEPOSIT_GWEI) * WEI_PER_GWEI, maxGasCostWei: DEPOSIT_GAS_LIMIT * fees.maxFeePerGas });
  }

  /**
   * Whether some transaction of the funding wallet with `nonce` is mined at least `confirmations`
   * deep: then no other transaction with that nonce (a committed deposit whose receipt is missing)
   * can ever be mined.
   */
  async nonceSpentAtDepth(nonce: number, confirmations: number): Promise<boolean> {
    const latest = await this.latestBlock();
    const depth = latest - confirmations + 1;
    if (depth < 0) return false;
    const count = await this.#read('eth_getTransactionCount', () => this.#provider.getTransactionCount(this.fundingAddress, depth));
    return count > nonce;
  }

  async #fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const { maxFeePerGas, maxPriorityFeePerGas } = await this.#read('fee data', () => this.#provider.getFeeData());
    if (maxFeePerGas === null || maxPriorityFeePerGas === null) throw new DepositError('DEPOSIT_WRONG_CHAIN', `chain id ${this.#network.chainId} reports no EIP-1559 fees; deposits need a post-London chain`);
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  /** Executes the first deposit against the current state without sending it: catches a contract that would revert. */
  async #dryRun(deposit: SignedDeposit): Promise<void> {
    try {
      await this.#provider.call({ from: this.fundingAddress, to: this.#network.depositContractAddress, value: depositValueWei(deposit), data: depositCallData(deposit), gasLimit: DEPOSIT_GAS_LIMIT });
    } catch (error) {
      throw new DepositError('DEPOSIT_REVERTED', `the deposit contract at ${this.#network.depositContractAddress} would revert the deposit (${rpcMessage(error)}); nothing was sent`, { cause: error });
    }
  }

  /** Whether the node has the transaction, pooled or mined; an unreachable node does not. */
  async #isKnown(txHash: string): Promise<boolean> {
    try {
      return (await this.#provider.getTransaction(txHash)) !== null;
    } catch {
      return false;
    }
  }

  async #rpc<T>(method: string, params: unknown[]): Promise<T> {
    return this.#read(method, async () => (await this.#provider.send(method, params)) as T);
  }

  /** Runs a read; an endpoint failure becomes DEPOSIT_RPC. The endpoint URL, which may hold an API key, is never named. */
  async #read<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new DepositError('DEPOSIT_RPC', `the Ethereum endpoint failed ${what}: ${rpcMessage(error)}`, { cause: error });
    }
  }
}

function signedTxHash(rawTx: string): string {
  let hash: string | null;
  try {
    hash = Transaction.from(rawTx).hash;
  } catch (cause) {
    throw new DepositError('DEPOSIT_INPUT', 'the deposit transaction to broadcast is not a serialized transaction', { cause });
  }
  if (hash === null) throw new DepositError('DEPOSIT_INPUT', 'the deposit transaction to broadcast is not signed');
  return hash;
}
