import type { ChainSighting, PoolKey, ReadonlyCoreState } from '../core/index.js';
import type { PoolSecrets } from '../keys/pool-secrets.js';
import type { ReplicatedLog } from '../replication/types.js';
import { DepositError, FULL_DEPOSIT_GWEI, hexToBytes, signDeposit, type SignedDeposit } from '../../shared/eth/deposit/index.js';
import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { WarningLimiter } from '../../shared/log/warning-limiter.js';
import type { ChainLookup } from './chain-lookup.js';
import type { DepositNetwork } from './deposit-network.js';
import type { DepositSender } from './deposit-sender.js';

export interface DepositKeeperOptions {
  readonly pool: string;
  readonly network: DepositNetwork;
  readonly withdrawalCredentials: Uint8Array;
  readonly confirmations: number;
}

/** Deposits signed per round: one synced log entry records them all. */
const SIGN_BATCH = 16;
/** How far back the reconciler looks for DepositEvents of deposits whose fate is unknown (about a week on mainnet). */
const RECONCILE_LOOKBACK_BLOCKS = 50_000;
const DAY_MS = 24 * 3600 * 1000;

/**
 * The leader's deposit loop, in S4's order: a derived key is already committed ('awaiting'); the chain
 * is asked whether the key is deposited already (then that deposit is recorded and nothing is paid);
 * otherwise its deposit transaction is signed and committed ('signed') before it is broadcast; then it
 * is broadcast, again by every new leader (the same bytes, so never a second payment), until it has
 * enough confirmations. Keys whose transaction the node does not know are looked up in the contract's
 * DepositEvents; a transaction whose nonce another one took is replaced the same committed way.
 * Warnings that repeat every round are written once a minute per cause, with a count.
 */
export class DepositKeeper {
  private rounds = 0;
  private readonly warnings: WarningLimiter;

  constructor(
    private readonly log: ReplicatedLog,
    private readonly secrets: PoolSecrets,
    private readonly sender: DepositSender,
    private readonly lookup: ChainLookup,
    private readonly options: DepositKeeperOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.warnings = new WarningLimiter(logger, clock);
  }

  /** One round; the caller runs it periodically, one at a time, and only the leader does anything. */
  async tick(): Promise<void> {
    if (!this.log.isLeader()) return;
    this.rounds++;
    try {
      await this.signAwaiting();
      await this.broadcastAndConfirm();
    } catch (error) {
      this.warnings.warn(`round:${error instanceof DepositError ? error.code : 'unexpected'}`, 'deposit round failed; will retry', { error: error as Error });
    }
  }

  private poolKeys(state: ReadonlyCoreState, status: 'awaiting' | 'signed'): Readonly<PoolKey>[] {
    return [...state.keys.values()].filter((k) => k.pool === this.options.pool && k.deposit?.status === status).sort((a, b) => (a.derivationIndex ?? 0) - (b.derivationIndex ?? 0));
  }

  private async signAwaiting(): Promise<void> {
    const candidates = this.log.peek((state) => this.poolKeys(state, 'awaiting').slice(0, SIGN_BATCH));
    if (candidates.length === 0) return;
    // The chain is the source of truth: a key deposited already (a restored mnemonic, another pool) is not paid for again.
    const found = await this.lookup.find(candidates.map((k) => k.pubKey));
    if (found.size > 0) await this.recordFound(found);
    const awaiting = candidates.filter((k) => !found.has(k.pubKey));
    if (awaiting.length === 0) return;
    const deposits = await Promise.all(awaiting.map((key) => this.depositOf(key)));
    const nowMs = this.clock.wallMs();
    const signedLastDay = this.log.peek((state) => {
      let lastDay = 0;
      for (const key of state.keys.values()) {
        if (key.pool === this.options.pool && key.deposit?.signedAtMs != null && key.deposit.signedAtMs > nowMs - DAY_MS) lastDay++;
      }
      return lastDay;
    });
    const firstNonce = await this.nextNonce(this.highestCommittedNonce());
    const signed = await this.sender.signDeposits({ deposits, firstNonce, depositsInLast24h: signedLastDay });
    const result = await this.log.propose({
      type: 'RecordDepositTransactions',
      nowMs,
      transactions: signed.map((tx, i) => ({ pubKey: awaiting[i]!.pubKey, txHash: tx.txHash, rawTx: tx.rawTx, nonce: tx.nonce })),
    });
    if (!result.ok) {
      this.warnings.warn('record', 'deposit transactions not recorded; nothing was broadcast', { reason: result.refusal.message });
      return;
    }
    this.logger.info('deposit transactions committed', { pool: this.options.pool, deposits: signed.length, firstNonce });
  }

  /** Never below a nonce already committed: a re-signed deposit must not replace one that may be mined. */
  private async nextNonce(highestCommitted: number): Promise<number> {
    return Math.max(await this.sender.pendingNonce(), highestCommitted + 1);
  }

  private highestCommittedNonce(): number {
    return this.log.peek((state) => {
      let highest = -1;
      for (const key of state.keys.values()) if (key.pool === this.options.pool && key.deposit?.nonce != null) highest = Math.max(highest, key.deposit.nonce);
      return highest;
    });
  }

  private async recordFound(found: ReadonlyMap<string, ChainSighting>): Promise<void> {
    const result = await this.log.propose({ type: 'RecordFoundDeposits', nowMs: this.clock.wallMs(), found: [...found].map(([pubKey, sighting]) => ({ pubKey, sighting })) });
    if (!result.ok) {
      this.warnings.warn('record-found', 'deposits found on chain not recorded; nothing was paid for them', { reason: result.refusal.message });
      return;
    }
    for (const [pubKey, sighting] of found) {
      this.logger.warn('key already deposited on chain: its deposit is recorded instead of paid, and the key is foreign (not handed out) until its slashing protection is imported or an operator confirms it', { pool: this.options.pool, pubKey, ...sighting });
    }
  }

  /** The signed deposit of a key: its secret is opened for the signature only, then zeroed. */
  private async depositOf(key: Readonly<PoolKey>): Promise<SignedDeposit> {
    const opened = this.secrets.open(key);
    const privKey = await decryptKeystore(parseKeystore(opened.keystoreJson), opened.keystorePassword);
    try {
      return signDeposit({
        privKey,
        withdrawalCredentials: this.options.withdrawalCredentials,
        amountGwei: FULL_DEPOSIT_GWEI,
        genesisForkVersion: hexToBytes(this.options.network.genesisForkVersion, 4, 'genesis fork version'),
      });
    } finally {
      privKey.fill(0);
    }
  }

  private async broadcastAndConfirm(): Promise<void> {
    const signed = this.log.peek((state) => this.poolKeys(state, 'signed'));
    if (signed.length === 0) return;
    const confirmed: Array<{ pubKey: string; blockNumber: number }> = [];
    const unknown: string[] = [];
    for (const key of signed) {
      const { rawTx, txHash } = key.deposit!;
      try {
        // Every round until confirmed, and by every new leader: the node keeps it once, whoever sends it.
        await this.sender.broadcast(rawTx!);
        const inclusion = await this.sender.inclusion(txHash!);
        if (inclusion.blockNumber !== null && inclusion.confirmations >= this.options.confirmations) confirmed.push({ pubKey: key.pubKey, blockNumber: inclusion.blockNumber });
      } catch (error) {
        if (error instanceof DepositError && error.code === 'DEPOSIT_NONCE_CONFLICT') {
          await this.replaceTakenNonce(key);
          continue;
        }
        this.warnings.warn(`broadcast:${error instanceof DepositError ? error.code : 'unexpected'}`, 'deposit transaction not confirmed yet', { pubKey: key.pubKey, txHash, error: error as Error });
        unknown.push(key.pubKey);
      }
    }
    if (unknown.length > 0 && this.rounds % 10 === 0) confirmed.push(...(await this.reconcile(unknown)));
    if (confirmed.length === 0) return;
    const result = await this.log.propose({ type: 'ConfirmDeposits', nowMs: this.clock.wallMs(), confirmations: confirmed });
    if (result.ok) this.logger.info('deposits confirmed; their keys are claimable', { pool: this.options.pool, deposits: result.value.confirmed });
  }

  /**
   * Another transaction of the funding wallet took this deposit's nonce (an operator's transfer, a second
   * tool on the same wallet). Once that one is mined `confirmations` deep, this transaction can never be
   * mined, so the deposit is signed again with the next free nonce and committed before it is broadcast,
   * as the first one was: still one deposit. A DepositEvent of the key (someone deposited it) is recorded
   * instead.
   */
  private async replaceTakenNonce(key: Readonly<PoolKey>): Promise<void> {
    const { nonce, txHash } = key.deposit!;
    if (!(await this.sender.nonceSpentAtDepth(nonce!, this.options.confirmations))) {
      this.warnings.warn('nonce-taken-pending', 'another transaction of the funding wallet took a deposit\'s nonce; waiting for it to be confirmed before the deposit is signed again', { pubKey: key.pubKey, txHash, nonce });
      return;
    }
    if ((await this.sender.inclusion(txHash!)).blockNumber !== null) return; // mined after all: confirmed next round
    const found = await this.lookup.find([key.pubKey]);
    if (found.has(key.pubKey)) {
      await this.recordFound(found);
      return;
    }
    const deposit = await this.depositOf(key);
    // A replacement is not another deposit: the one it replaces can no longer be mined, and the daily cap counted it already.
    const [signed] = await this.sender.signDeposits({ deposits: [deposit], firstNonce: await this.nextNonce(this.highestCommittedNonce()), depositsInLast24h: 0 });
    const result = await this.log.propose({ type: 'ReplaceDepositTransaction', nowMs: this.clock.wallMs(), pubKey: key.pubKey, replacesTxHash: txHash!, txHash: signed!.txHash, rawTx: signed!.rawTx, nonce: signed!.nonce });
    if (!result.ok) {
      this.warnings.warn('replace', 'replacing a deposit transaction whose nonce was taken was refused; nothing was broadcast', { pubKey: key.pubKey, reason: result.refusal.message });
      return;
    }
    this.logger.warn('deposit transaction signed again: another transaction of the funding wallet took its nonce, so the old one can never be mined', { pubKey: key.pubKey, replacedTxHash: txHash, replacedNonce: nonce, txHash: signed!.txHash, nonce: signed!.nonce });
  }

  /** Deposits whose transaction the node cannot account for, found by their DepositEvent instead. */
  private async reconcile(pubKeys: readonly string[]): Promise<Array<{ pubKey: string; blockNumber: number }>> {
    try {
      const latest = await this.sender.latestBlock();
      const events = await this.sender.findDepositEvents(pubKeys, Math.max(0, latest - RECONCILE_LOOKBACK_BLOCKS));
      const found = events.filter((e) => latest - e.blockNumber + 1 >= this.options.confirmations).map((e) => ({ pubKey: e.pubKey, blockNumber: e.blockNumber }));
      if (found.length > 0) this.logger.info('reconciled deposits from the contract\'s DepositEvents', { deposits: found.length });
      return found;
    } catch (error) {
      this.warnings.warn('reconcile', 'reconciling deposits with the chain failed; will retry', { error: error as Error });
      return [];
    }
  }
}
