import type { AddDerivedKeysCommand, CommandOutcomes, ConfirmDepositsCommand, RecordDepositTransactionsCommand } from './commands.js';
import { accept, refuse, type Result } from './refusal.js';
import type { CoreState, DepositState, PoolKey } from './types.js';

/**
 * The deposit of a new key, in the order S4 requires: the key is committed first ('awaiting'), then its
 * signed transaction's raw bytes ('signed') before anyone broadcasts it, so a new leader re-broadcasts
 * the same transaction (same nonce) and never pays twice; it is claimable once 'confirmed'.
 */
export function claimable(key: Readonly<PoolKey>): boolean {
  return key.deposit === null || key.deposit.status === 'confirmed';
}

/** Keys of the pool whose deposits are under way: they will be claimable once confirmed. */
export function countAwaitingDeposit(state: { readonly keys: ReadonlyMap<string, Readonly<PoolKey>> }, pool: string): number {
  let count = 0;
  for (const key of state.keys.values()) if (key.pool === pool && key.state === 'unallocated' && !claimable(key)) count++;
  return count;
}

const TX_HASH = /^0x[0-9a-f]{64}$/;
const RAW_TX = /^0x[0-9a-f]+$/;

export function recordDepositTransactions(state: CoreState, command: RecordDepositTransactionsCommand): Result<CommandOutcomes['RecordDepositTransactions']> {
  if (!Array.isArray(command.transactions) || command.transactions.length === 0) return refuse('INVALID_ARGUMENT', 'no deposit transactions to record');
  const seenNonces = new Set<number>();
  for (const tx of command.transactions) {
    const key = state.keys.get(tx?.pubKey);
    if (!key) return refuse('KEY_NOT_FOUND', `key ${String(tx?.pubKey).slice(0, 98)} is not in any pool`);
    if (key.deposit?.status !== 'awaiting') {
      // Exactly once: a key whose transaction is recorded never gets a second one.
      return refuse('DEPOSIT_STATE', `key ${key.pubKey} is not awaiting a deposit (it is ${key.deposit?.status ?? 'not a deposit key'}): its transaction was recorded already`);
    }
    if (!TX_HASH.test(tx.txHash) || !RAW_TX.test(tx.rawTx) || !Number.isSafeInteger(tx.nonce) || tx.nonce < 0) {
      return refuse('INVALID_ARGUMENT', `deposit transaction of ${key.pubKey} lacks a valid hash, raw bytes or nonce`);
    }
    if (seenNonces.has(tx.nonce)) return refuse('INVALID_ARGUMENT', `two deposit transactions use nonce ${tx.nonce}`);
    seenNonces.add(tx.nonce);
  }
  for (const tx of command.transactions) {
    const key = state.keys.get(tx.pubKey)!;
    key.deposit = { status: 'signed', txHash: tx.txHash, rawTx: tx.rawTx, nonce: tx.nonce, signedAtMs: command.nowMs, confirmedAtMs: null, blockNumber: null };
  }
  return accept({ recorded: command.transactions.length });
}

export function confirmDeposits(state: CoreState, command: ConfirmDepositsCommand): Result<CommandOutcomes['ConfirmDeposits']> {
  if (!Array.isArray(command.confirmations) || command.confirmations.length === 0) return refuse('INVALID_ARGUMENT', 'no deposits to confirm');
  for (const confirmation of command.confirmations) {
    const key = state.keys.get(confirmation?.pubKey);
    if (!key?.deposit || key.deposit.status === 'awaiting') return refuse('DEPOSIT_STATE', `key ${String(confirmation?.pubKey).slice(0, 98)} has no deposit transaction to confirm`);
    if (!Number.isSafeInteger(confirmation.blockNumber) || confirmation.blockNumber < 0) return refuse('INVALID_ARGUMENT', 'a confirmation needs the block number of the deposit');
  }
  let confirmed = 0;
  for (const { pubKey, blockNumber } of command.confirmations) {
    const key = state.keys.get(pubKey)!;
    if (key.deposit!.status === 'confirmed') continue;
    key.deposit = { ...(key.deposit as DepositState), status: 'confirmed', confirmedAtMs: command.nowMs, blockNumber };
    confirmed++;
  }
  return accept({ confirmed });
}

/** Checked by the caller (apply.ts), which adds the keys with the pool's usual checks. */
export function addDerivedKeysProblem(command: AddDerivedKeysCommand): Result<never> | null {
  if (!Array.isArray(command.keys) || command.keys.length === 0) return refuse('INVALID_ARGUMENT', 'no derived keys to add');
  return null;
}

export const AWAITING: DepositState = { status: 'awaiting', txHash: null, rawTx: null, nonce: null, signedAtMs: null, confirmedAtMs: null, blockNumber: null };
