import type { AddDerivedKeysCommand, CommandOutcomes, ConfirmDepositsCommand, RecordDepositTransactionsCommand, ReplaceDepositTransactionCommand } from './commands.js';
import { isForeign } from './foreign.js';
import { accept, refuse, type Result } from './refusal.js';
import type { CoreState, DepositState, PoolKey, ReadonlyCoreState } from './types.js';

/**
 * The deposit of a new key, in the order S4 requires: the key is committed first ('awaiting'), then its
 * signed transaction's raw bytes ('signed') before anyone broadcasts it, so a new leader re-broadcasts
 * the same transaction (same nonce) and never pays twice; it is claimable once 'confirmed'.
 */
export function claimable(key: Readonly<PoolKey>): boolean {
  return (key.deposit === null || key.deposit.status === 'confirmed') && !isForeign(key);
}

/**
 * Keys of the pool whose deposits are under way: they will be claimable once confirmed. Asked for a
 * pod, keys reserved for another pod's claim are not counted: that pod gets them.
 */
export function countAwaitingDeposit(state: Pick<ReadonlyCoreState, 'keys'>, pool: string, podName?: string): number {
  let count = 0;
  for (const key of state.keys.values()) {
    if (key.pool !== pool || key.state !== 'unallocated' || !key.deposit || key.deposit.status === 'confirmed' || isForeign(key)) continue;
    if (podName !== undefined && key.deposit.reservedFor && key.deposit.reservedFor !== podName) continue;
    count++;
  }
  return count;
}

/**
 * Whether a key derived for another pod's claim is still kept for that pod: until its deposit has been
 * confirmed for a lease TTL (the agent retries well within it), after which anyone may take it.
 */
export function reservedForOther(key: Readonly<PoolKey>, podName: string, nowMs: number, leaseTtlMs: number): boolean {
  const reservedFor = key.deposit?.reservedFor;
  if (!reservedFor || reservedFor === podName) return false;
  const confirmedAtMs = key.deposit!.confirmedAtMs;
  return confirmedAtMs === null || nowMs < confirmedAtMs + leaseTtlMs;
}

/** A claimed key's reservation has served its purpose. */
export function endReservation(key: PoolKey): void {
  if (key.deposit?.reservedFor) key.deposit = { ...key.deposit, reservedFor: null };
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
    key.deposit = { status: 'signed', txHash: tx.txHash, rawTx: tx.rawTx, nonce: tx.nonce, signedAtMs: command.nowMs, confirmedAtMs: null, blockNumber: null, reservedFor: key.deposit?.reservedFor ?? null };
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

/**
 * Swaps a committed deposit transaction for one with another nonce. Exactly once still holds: the
 * proposer has seen the old transaction's nonce used by another transaction at a confirmed depth, so
 * the old one can never be mined; the new one is committed before it is broadcast, like the first.
 */
export function replaceDepositTransaction(state: CoreState, command: ReplaceDepositTransactionCommand): Result<CommandOutcomes['ReplaceDepositTransaction']> {
  const key = state.keys.get(command.pubKey);
  if (!key) return refuse('KEY_NOT_FOUND', `key ${String(command.pubKey).slice(0, 98)} is not in any pool`);
  const deposit = key.deposit;
  if (deposit?.status !== 'signed' || deposit.txHash !== command.replacesTxHash) {
    return refuse('DEPOSIT_STATE', `the deposit of ${key.pubKey} is no longer transaction ${String(command.replacesTxHash).slice(0, 66)} awaiting inclusion: nothing to replace`);
  }
  if (!TX_HASH.test(command.txHash) || !RAW_TX.test(command.rawTx) || !Number.isSafeInteger(command.nonce) || command.nonce <= deposit.nonce!) {
    return refuse('INVALID_ARGUMENT', `the replacement deposit transaction of ${key.pubKey} needs a valid hash, raw bytes and a nonce above ${deposit.nonce}`);
  }
  for (const other of state.keys.values()) {
    if (other !== key && other.deposit?.nonce === command.nonce) {
      return refuse('INVALID_ARGUMENT', `nonce ${command.nonce} is already committed for the deposit of ${other.pubKey}`);
    }
  }
  key.deposit = { ...deposit, txHash: command.txHash, rawTx: command.rawTx, nonce: command.nonce };
  return accept({ pubKey: key.pubKey, txHash: command.txHash, nonce: command.nonce });
}

/** Checked by the caller (apply.ts), which adds the keys with the pool's usual checks. */
export function addDerivedKeysProblem(command: AddDerivedKeysCommand): Result<never> | null {
  if (!Array.isArray(command.keys) || command.keys.length === 0) return refuse('INVALID_ARGUMENT', 'no derived keys to add');
  return null;
}

export const AWAITING: DepositState = { status: 'awaiting', txHash: null, rawTx: null, nonce: null, signedAtMs: null, confirmedAtMs: null, blockNumber: null };
