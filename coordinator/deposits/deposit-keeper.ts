import type { PoolKey, ReadonlyCoreState } from '../core/index.js';
import type { PoolSecrets } from '../keys/pool-secrets.js';
import type { ReplicatedLog } from '../replication/types.js';
import { FULL_DEPOSIT_GWEI, hexToBytes, signDeposit, type SignedDeposit } from '../../shared/eth/deposit/index.js';
import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';
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
 * The leader's deposit loop, in S4's order: a derived key is already committed ('awaiting'); its deposit
 * transaction is signed and committed ('signed') before it is broadcast; then it is broadcast, again by
 * every new leader (the same bytes, so never a second payment), until it has enough confirmations. Keys
 * whose transaction the node does not know are looked up in the contract's DepositEvents.
 */
export class DepositKeeper {
  private rounds = 0;

  constructor(
    private readonly log: ReplicatedLog,
    private readonly secrets: PoolSecrets,
    private readonly sender: DepositSender,
    private readonly options: DepositKeeperOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** One round; the caller runs it periodically, one at a time, and only the leader does anything. */
  async tick(): Promise<void> {
    if (!this.log.isLeader()) return;
    this.rounds++;
    await this.signAwaiting();
    await this.broadcastAndConfirm();
  }

  private poolKeys(state: ReadonlyCoreState, status: 'awaiting' | 'signed'): Readonly<PoolKey>[] {
    return [...state.keys.values()].filter((k) => k.pool === this.options.pool && k.deposit?.status === status).sort((a, b) => (a.derivationIndex ?? 0) - (b.derivationIndex ?? 0));
  }

  private async signAwaiting(): Promise<void> {
    const awaiting = this.log.peek((state) => this.poolKeys(state, 'awaiting').slice(0, SIGN_BATCH));
    if (awaiting.length === 0) return;
    const deposits = await Promise.all(awaiting.map((key) => this.depositOf(key)));
    const nowMs = this.clock.wallMs();
    const { highestNonce, signedLastDay } = this.log.peek((state) => {
      let highest = -1;
      let lastDay = 0;
      for (const key of state.keys.values()) {
        if (key.pool !== this.options.pool || !key.deposit || key.deposit.nonce === null) continue;
        highest = Math.max(highest, key.deposit.nonce);
        if (key.deposit.signedAtMs !== null && key.deposit.signedAtMs > nowMs - DAY_MS) lastDay++;
      }
      return { highestNonce: highest, signedLastDay: lastDay };
    });
    // Never below a nonce already committed: a re-signed deposit must not replace one that may be mined.
    const firstNonce = Math.max(await this.sender.pendingNonce(), highestNonce + 1);
    const signed = await this.sender.signDeposits({ deposits, firstNonce, depositsInLast24h: signedLastDay });
    const result = await this.log.propose({
      type: 'RecordDepositTransactions',
      nowMs,
      transactions: signed.map((tx, i) => ({ pubKey: awaiting[i]!.pubKey, txHash: tx.txHash, rawTx: tx.rawTx, nonce: tx.nonce })),
    });
    if (!result.ok) {
      this.logger.warn('deposit transactions not recorded; nothing was broadcast', { reason: result.refusal.message });
      return;
    }
    this.logger.info('deposit transactions committed', { pool: this.options.pool, deposits: signed.length, firstNonce });
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
        this.logger.warn('deposit transaction not confirmed yet', { pubKey: key.pubKey, txHash, error });
        unknown.push(key.pubKey);
      }
    }
    if (unknown.length > 0 && this.rounds % 10 === 0) confirmed.push(...(await this.reconcile(unknown)));
    if (confirmed.length === 0) return;
    const result = await this.log.propose({ type: 'ConfirmDeposits', nowMs: this.clock.wallMs(), confirmations: confirmed });
    if (result.ok) this.logger.info('deposits confirmed; their keys are claimable', { pool: this.options.pool, deposits: result.value.confirmed });
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
      this.logger.warn('reconciling deposits with the chain failed; will retry', { error });
      return [];
    }
  }
}
