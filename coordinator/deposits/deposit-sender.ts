import { JsonRpcProvider, Transaction, Wallet } from 'ethers';
import { DepositError, hexToBytes, prefixedHex, verifyDeposit, type SignedDeposit } from '../../shared/eth/deposit/index.js';
import { DEPOSIT_EVENT_TOPIC } from './deposit-contract-abi.js';
import { decodeDepositEvent, type DepositEventRecord } from './deposit-events.js';
import type { DepositNetwork } from './deposit-network.js';
import { DEPOSIT_GAS_LIMIT, depositCallData, depositValueWei, signDepositTransaction, type SignedDepositTx } from './deposit-transaction.js';
import { assertAffordable, assertWithinDailyCap } from './funding-guards.js';

/** Many RPC providers refuse eth_getLogs over more blocks than this at once. */
const LOG_BLOCK_RANGE = 10_000;

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
    return this.#provider.getTransactionCount(this.fundingAddress, 'pending');
  }

  /**
   * Checks the chain, every deposit, the daily cap and the balance, and only then signs one transaction
   * per deposit. Nothing is broadcast: commit the results, then `broadcast` them.
   */
  async signDeposits(request: SignDepositsRequest): Promise<SignedDepositTx[]> {
    const { deposits } = request;
    if (deposits.length === 0) return [];
    await this.checkChain();
    const forkVersion = hexToBytes(this.#network.genesisForkVersion, 4, 'genesis fork version');
    for (const deposit of deposits) verifyDeposit(deposit, forkVersion);
    assertWithinDailyCap({ depositsInLast24h: request.depositsInLast24h, requested: deposits.length, maxDepositsPerDay: this.#maxDepositsPerDay });
    const fees = await this.#fees();
    const valueWei = depositValueWei(deposits[0]!);
    if (deposits.some((deposit) => depositValueWei(deposit) !== valueWei)) throw new DepositError('DEPOSIT_INPUT', 'a batch of deposits must all have the same amount');
    const balanceWei = await this.#provider.getBalance(this.fundingAddress, 'pending');
    assertAffordable({ fundingAddress: this.fundingAddress, balanceWei, depositCount: deposits.length, valueWei, maxGasCostWei: DEPOSIT_GAS_LIMIT * fees.maxFeePerGas });

    await this.#dryRun(deposits[0]!);

    const signed: SignedDepositTx[] = [];
    for (const [i, deposit] of deposits.entries()) {
      signed.push(await signDepositTransaction(this.#wallet, deposit, this.#network, request.firstNonce + i, fees));
    }
    return signed;
  }

  /**
   * Sends a signed transaction. Idempotent: if the node already has it (pooled or mined, e.g. a
   * re-broadcast by a new leader) that is success. A nonce spent by another transaction is not.
   */
  async broadcast(rawTx: string): Promise<string> {
    const txHash = Transaction.from(rawTx).hash!;
    try {
      await this.#provider.send('eth_sendRawTransaction', [rawTx]);
      return txHash;
    } catch (error) {
      const message = rpcMessage(error);
      if (/already known|known transaction/i.test(message) || (await this.#provider.getTransaction(txHash)) !== null) return txHash;
      if (/nonce too low|nonce has already been used/i.test(message)) {
        throw new DepositError('DEPOSIT_NONCE_CONFLICT', `deposit transaction ${txHash} can never be mined: another transaction of ${this.fundingAddress} used its nonce (${message})`, { cause: error });
      }
      throw new DepositError('DEPOSIT_RPC', `broadcasting deposit transaction ${txHash} failed: ${message}`, { cause: error });
    }
  }

  /** Blocks on top of the transaction's, itself included; 0 while it is not mined. Throws if it reverted. */
  async confirmations(txHash: string): Promise<number> {
    const receipt = await this.#provider.getTransactionReceipt(txHash);
    if (receipt === null) return 0;
    if (receipt.status !== 1) throw new DepositError('DEPOSIT_REVERTED', `deposit transaction ${txHash} reverted in block ${receipt.blockNumber}; its ETH was not deposited`);
    return receipt.confirmations();
  }

  /**
   * The deposit contract's DepositEvents for `pubKeys` from `fromBlock` on: what the beacon chain will
   * credit, whoever sent it. Reconciliation compares them with the deposits committed as sent.
   */
  async findDepositEvents(pubKeys: readonly string[], fromBlock: number): Promise<DepositEventRecord[]> {
    const wanted = new Set(pubKeys.map((pubKey) => prefixedHex(hexToBytes(pubKey, 48, 'validator pubkey'))));
    const latest = await this.#provider.getBlockNumber();
    const found: DepositEventRecord[] = [];
    for (let from = fromBlock; from <= latest; from += LOG_BLOCK_RANGE) {
      const logs = await this.#provider.getLogs({
        address: this.#network.depositContractAddress,
        topics: [DEPOSIT_EVENT_TOPIC],
        fromBlock: from,
        toBlock: Math.min(from + LOG_BLOCK_RANGE - 1, latest),
      });
      for (const log of logs) {
        const event = decodeDepositEvent(log);
        if (wanted.has(event.pubKey)) found.push(event);
      }
    }
    return found;
  }

  async #fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const { maxFeePerGas, maxPriorityFeePerGas } = await this.#provider.getFeeData();
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

  async #rpc<T>(method: string, params: unknown[]): Promise<T> {
    try {
      return (await this.#provider.send(method, params)) as T;
    } catch (error) {
      throw new DepositError('DEPOSIT_RPC', `the Ethereum endpoint failed ${method}: ${rpcMessage(error)}`, { cause: error });
    }
  }
}

/** The node's own error text from an ethers error, without the request payload ethers appends. */
function rpcMessage(error: unknown): string {
  const inner = (error as { error?: { message?: unknown }; info?: { error?: { message?: unknown } } }) ?? {};
  const message = inner.error?.message ?? inner.info?.error?.message ?? (error instanceof Error ? (error as { shortMessage?: string }).shortMessage ?? error.message : String(error));
  return String(message);
}
