import type { CommandOutcomes, ConfirmForeignKeysCommand, RecordFoundDepositsCommand, RestoreKeysCommand } from './commands.js';
import { countPoolKeys, newKey, newKeysProblem, unknownPoolMessage } from './apply.js';
import { accept, refuse, type Result } from './refusal.js';
import type { CoreState, DepositState, PoolKey } from './types.js';

/**
 * What the chain showed of a derived key that the pool had not recorded: a DepositEvent on the deposit
 * contract, or a beacon node that knows the validator. Such a key may be loaded in a validator client
 * of another pool (the same mnemonic restored elsewhere), so it is not handed out until an operator
 * imports its slashing protection or confirms it signs nowhere else.
 */
export interface ChainSighting {
  readonly depositTxHash: string | null;
  readonly depositBlockNumber: number | null;
  /** The withdrawal credentials the found deposit carries (0x + 64 hex). */
  readonly withdrawalCredentials: string | null;
  /** The beacon node's validator status (pending_queued, active_ongoing, …) when one was asked and knew the key. */
  readonly beaconStatus: string | null;
}

export interface ForeignMark extends ChainSighting {
  readonly foundAtMs: number;
}

const TX_HASH = /^0x[0-9a-f]{64}$/;
const CREDENTIALS = /^0x[0-9a-f]{64}$/;
const BEACON_STATUS = /^[a-z_]{1,40}$/;

/** Whether the chain showed the key in use before the pool recorded it, and no operator has cleared it since. */
export const isForeign = (key: Readonly<PoolKey>): boolean => key.foreign !== undefined && key.foreign !== null;

function sightingProblem(pubKey: string, sighting: ChainSighting): string | null {
  if (typeof sighting !== 'object' || sighting === null) return `key ${pubKey}: a sighting must say what the chain showed`;
  const { depositTxHash, depositBlockNumber, withdrawalCredentials, beaconStatus } = sighting;
  if (depositTxHash === null && beaconStatus === null) return `key ${pubKey}: a sighting needs a deposit transaction or a beacon status`;
  if (depositTxHash !== null && !TX_HASH.test(depositTxHash)) return `key ${pubKey}: deposit transaction hash must be 0x and 64 lowercase hex digits`;
  if (depositBlockNumber !== null && (!Number.isSafeInteger(depositBlockNumber) || depositBlockNumber < 0)) return `key ${pubKey}: deposit block number must be a whole number`;
  if (withdrawalCredentials !== null && !CREDENTIALS.test(withdrawalCredentials)) return `key ${pubKey}: withdrawal credentials must be 0x and 64 lowercase hex digits`;
  if (beaconStatus !== null && !BEACON_STATUS.test(beaconStatus)) return `key ${pubKey}: beacon status must be a lowercase validator status`;
  return null;
}

function markOf(sighting: ChainSighting, nowMs: number): ForeignMark {
  const { depositTxHash, depositBlockNumber, withdrawalCredentials, beaconStatus } = sighting;
  return { depositTxHash, depositBlockNumber, withdrawalCredentials, beaconStatus, foundAtMs: nowMs };
}

/** The deposit of a key that someone else made: done, so nothing is paid for it. */
function foundDeposit(sighting: ChainSighting, nowMs: number, reservedFor: string | null): DepositState {
  return { status: 'confirmed', txHash: sighting.depositTxHash, rawTx: null, nonce: null, signedAtMs: null, confirmedAtMs: nowMs, blockNumber: sighting.depositBlockNumber, reservedFor };
}

export function recordFoundDeposits(state: CoreState, command: RecordFoundDepositsCommand): Result<CommandOutcomes['RecordFoundDeposits']> {
  if (!Array.isArray(command.found) || command.found.length === 0) return refuse('INVALID_ARGUMENT', 'no found deposits to record');
  const seen = new Set<string>();
  for (const { pubKey, sighting } of command.found) {
    const key = state.keys.get(pubKey);
    if (!key) return refuse('KEY_NOT_FOUND', `key ${String(pubKey).slice(0, 98)} is not in any pool`);
    if (seen.has(pubKey)) return refuse('INVALID_ARGUMENT', `key ${pubKey} is listed twice`);
    seen.add(pubKey);
    if (!key.deposit || key.deposit.status === 'confirmed') {
      return refuse('DEPOSIT_STATE', `key ${pubKey} is not waiting for a deposit (${key.deposit ? 'its deposit is confirmed' : 'it needs none'}): there is nothing to record instead of paying`);
    }
    const problem = sightingProblem(pubKey, sighting);
    if (problem) return refuse('INVALID_ARGUMENT', problem);
    if (key.deposit.txHash !== null && key.deposit.txHash === sighting.depositTxHash) {
      return refuse('DEPOSIT_STATE', `the deposit found for ${pubKey} is the pool's own transaction ${sighting.depositTxHash}: confirm it instead`);
    }
  }
  for (const { pubKey, sighting } of command.found) {
    const key = state.keys.get(pubKey)!;
    key.deposit = foundDeposit(sighting, command.nowMs, null);
    key.foreign = markOf(sighting, command.nowMs);
  }
  return accept({ recorded: command.found.map((f) => f.pubKey) });
}

export function restoreKeys(state: CoreState, command: RestoreKeysCommand): Result<CommandOutcomes['RestoreKeys']> {
  const pool = state.pools.get(command.pool);
  if (!pool) return refuse('UNKNOWN_POOL', unknownPoolMessage(state, command.pool));
  if (!pool.derive) return refuse('INVALID_ARGUMENT', `pool ${pool.name} does not derive keys: there is nothing to restore from a mnemonic`);
  if (!Array.isArray(command.keys) || command.keys.length === 0) return refuse('INVALID_ARGUMENT', 'a restore names no keys');
  if (command.fromIndex !== pool.nextDerivationIndex) {
    return refuse('DERIVATION_INDEX_MISMATCH', `the restore scanned from index ${String(command.fromIndex)}, but pool ${pool.name} derives next at ${pool.nextDerivationIndex}: scan again`);
  }
  let previous = command.fromIndex - 1;
  for (const { key, sighting } of command.keys) {
    const index = key?.derivationIndex;
    if (!Number.isSafeInteger(index) || index <= previous) return refuse('INVALID_ARGUMENT', 'restored keys must come in increasing derivation order, from the pool\'s next index on');
    previous = index;
    const problem = sightingProblem(key.pubKey, sighting);
    if (problem) return refuse('INVALID_ARGUMENT', problem);
  }
  if (!Number.isSafeInteger(command.nextDerivationIndex) || command.nextDerivationIndex <= previous) {
    return refuse('INVALID_ARGUMENT', `the next derivation index must be past the last restored key (${previous})`);
  }
  const batchProblem = newKeysProblem(state, command.keys.map((k) => k.key));
  if (batchProblem) return batchProblem;
  const poolSize = countPoolKeys(state, pool.name);
  if (poolSize + command.keys.length > pool.maxKeys) {
    return refuse('POOL_FULL', `pool ${pool.name} holds ${poolSize} of at most ${pool.maxKeys} keys; restoring ${command.keys.length} found on chain would exceed it: raise --pool-max-keys`);
  }
  for (const { key, sighting } of command.keys) {
    state.keys.set(key.pubKey, {
      ...newKey(key, pool.name, key.derivationIndex, command.nowMs),
      // A pool that deposits records the deposit someone made, so it never pays for the key.
      deposit: pool.depositMode === 'submit' ? foundDeposit(sighting, command.nowMs, null) : null,
      foreign: markOf(sighting, command.nowMs),
    });
  }
  pool.nextDerivationIndex = command.nextDerivationIndex;
  return accept({ restored: command.keys.map((k) => k.key.pubKey), nextDerivationIndex: pool.nextDerivationIndex });
}

export function confirmForeignKeys(state: CoreState, command: ConfirmForeignKeysCommand): Result<CommandOutcomes['ConfirmForeignKeys']> {
  const pool = state.pools.get(command.pool);
  if (!pool) return refuse('UNKNOWN_POOL', unknownPoolMessage(state, command.pool));
  if (!Array.isArray(command.pubKeys) || command.pubKeys.length === 0) return refuse('INVALID_ARGUMENT', 'the confirmation names no keys');
  const missing = command.pubKeys.filter((pubKey) => state.keys.get(pubKey)?.pool !== pool.name);
  if (missing.length > 0) return refuse('KEY_NOT_FOUND', `not in pool ${pool.name}: ${missing.map((p) => String(p).slice(0, 98)).join(', ')}`);
  const notForeign = command.pubKeys.filter((pubKey) => !isForeign(state.keys.get(pubKey)!));
  if (notForeign.length > 0) return refuse('INVALID_ARGUMENT', `not marked foreign, nothing to confirm: ${notForeign.join(', ')}`);
  const confirmed = [...new Set(command.pubKeys)];
  for (const pubKey of confirmed) state.keys.get(pubKey)!.foreign = null;
  return accept({ confirmed });
}
