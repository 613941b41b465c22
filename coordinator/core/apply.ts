import { leaseHolderProblem, poolNameProblem } from '../../shared/names/pod-name.js';
import type {
  ClaimCommand,
  Command,
  CommandOutcomes,
  ConfigurePoolCommand,
  ExpireLeaseCommand,
  FinishCoolingCommand,
  ImportKeysCommand,
  ReleaseCommand,
  RemoveKeysCommand,
  AddDerivedKeysCommand,
} from './commands.js';
import { holderGone, proveRemoval, quarantineKey, releaseQuarantine } from './quarantine.js';
import { clockWatermarks, slotClockProblem } from './slot-clock.js';
import { accept, refuse, type Result } from './refusal.js';
import { closeAssignment, recordAssignment } from './history.js';
import { mergeProtection, protectionProblem } from './protection.js';
import { addDerivedKeysProblem, AWAITING, confirmDeposits, countAwaitingDeposit, endReservation, recordDepositTransactions, replaceDepositTransaction } from './deposits.js';
import { confirmForeignKeys, recordFoundDeposits, restoreKeys } from './foreign.js';
import { importProtection } from './protection-import.js';
import { firstFreeKeys, noteFreedKeys } from './free-keys.js';
import { heldSealedSecret } from './sealed-secret.js';
import { SIGNING_MODES, type CoreState, type Lease, type NewPoolKey, type Pool, type PoolKey, type PoolSettings, type ReadonlyCoreState } from './types.js';

const PUBKEY = /^0x[0-9a-f]{96}$/;

export type CommandResult = Result<CommandOutcomes[Command['type']]>;

/** How long a release's request id is remembered: far longer than any agent keeps retrying one. */
export const REQUEST_MEMORY_MS = 15 * 60 * 1000;

/**
 * Applies one command. Every check runs before the first change, so a refused command leaves the
 * state exactly as it was. No clock, no randomness, no I/O: the command carries its time.
 */
export function applyCommand(state: CoreState, command: Command): CommandResult {
  if (!Number.isSafeInteger(command?.nowMs) || command.nowMs < 0) {
    return refuse('INVALID_ARGUMENT', 'command has no valid nowMs (milliseconds since the epoch)');
  }
  const requestId = command.type === 'Release' && typeof command.requestId === 'string' && command.requestId !== '' ? command.requestId : null;
  if (requestId !== null) {
    const remembered = state.recentRequests.get(requestId);
    if (remembered) return accept(remembered.outcome as CommandOutcomes[Command['type']]);
  }
  const result = applyFresh(state, command);
  noteFreedKeys(state, command, result);
  // Only accepted commands are remembered: a refusal changes nothing, not even this table.
  if (requestId !== null && result.ok) remember(state, requestId, result.value, command.nowMs);
  return result;
}

function remember(state: CoreState, requestId: string, outcome: unknown, nowMs: number): void {
  // Insertion order is time order (the log's): forget from the oldest until one is recent enough.
  for (const [id, remembered] of state.recentRequests) {
    if (remembered.atMs > nowMs - REQUEST_MEMORY_MS) break;
    state.recentRequests.delete(id);
  }
  state.recentRequests.set(requestId, { outcome, atMs: nowMs });
}

function applyFresh(state: CoreState, command: Command): CommandResult {
  switch (command.type) {
    case 'ConfigurePool':
      return configurePool(state, command);
    case 'Claim':
      return claim(state, command);
    case 'Release':
      return release(state, command);
    case 'ExpireLease':
      return expireLease(state, command);
    case 'ImportKeys':
      return importKeys(state, command);
    case 'FinishCooling':
      return finishCooling(state, command);
    case 'RemoveKeys':
      return removeKeys(state, command);
    case 'AddDerivedKeys':
      return addDerivedKeys(state, command);
    case 'RecordDepositTransactions':
      return recordDepositTransactions(state, command);
    case 'ConfirmDeposits':
      return confirmDeposits(state, command);
    case 'RecordFoundDeposits':
      return recordFoundDeposits(state, command);
    case 'RestoreKeys':
      return restoreKeys(state, command);
    case 'ConfirmForeignKeys':
      return confirmForeignKeys(state, command);
    case 'ImportProtection':
      return importProtection(state, command);
    case 'ReplaceDepositTransaction':
      return replaceDepositTransaction(state, command);
    case 'HolderGone':
      return holderGone(state, command);
    case 'ProveRemoval':
      return proveRemoval(state, command);
    case 'ReleaseQuarantine':
      return releaseQuarantine(state, command);
    case 'Noop':
      return accept({});
    default:
      return refuse('INVALID_ARGUMENT', `unknown command type ${JSON.stringify((command as { type?: unknown }).type)}`);
  }
}

function settingsProblem(settings: PoolSettings): string | null {
  const positive = (name: keyof PoolSettings, min: number) => {
    const value = settings?.[name];
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= min ? null : `${name} must be an integer ≥ ${min}`;
  };
  if (typeof settings?.derive !== 'boolean') return 'derive must be true or false';
  if (!['none', 'export', 'submit'].includes(settings.depositMode)) return 'depositMode must be none, export or submit';
  if (typeof settings.genesisValidatorsRoot !== 'string' || !/^0x[0-9a-f]{64}$/.test(settings.genesisValidatorsRoot)) return 'genesisValidatorsRoot must be 0x and 64 lowercase hex digits';
  return (
    slotClockProblem(settings) ??
    positive('maxKeys', 1) ??
    positive('maxKeysPerClaim', 1) ??
    positive('coolingMs', 0) ??
    positive('leaseTtlMs', 1000) ??
    positive('historyRetentionMs', 0)
  );
}

function configurePool(state: CoreState, command: ConfigurePoolCommand): Result<CommandOutcomes['ConfigurePool']> {
  const nameProblem = poolNameProblem(String(command.pool ?? ''));
  if (nameProblem) return refuse('INVALID_ARGUMENT', nameProblem);
  const problem = settingsProblem(command.settings);
  if (problem) return refuse('INVALID_ARGUMENT', `pool ${command.pool}: ${problem}`);
  const existing = state.pools.get(command.pool);
  const keyCount = countPoolKeys(state, command.pool);
  if (command.settings.maxKeys < keyCount) {
    return refuse('INVALID_ARGUMENT', `pool ${command.pool} already holds ${keyCount} keys; maxKeys cannot be set below that`);
  }
  const { derive, maxKeys, maxKeysPerClaim, coolingMs, leaseTtlMs, genesisValidatorsRoot, historyRetentionMs, depositMode, genesisTimeMs, slotMs, slotsPerEpoch } = command.settings;
  if (existing && countPoolKeys(state, command.pool) > 0 && existing.genesisValidatorsRoot !== genesisValidatorsRoot) {
    return refuse('INVALID_ARGUMENT', `pool ${command.pool} already holds keys of the network with genesis validators root ${existing.genesisValidatorsRoot}; a pool cannot move to another network`);
  }
  state.pools.set(command.pool, {
    name: command.pool,
    derive,
    maxKeys,
    maxKeysPerClaim,
    coolingMs,
    leaseTtlMs,
    genesisValidatorsRoot,
    historyRetentionMs,
    depositMode,
    ...(genesisTimeMs !== undefined && genesisTimeMs !== null ? { genesisTimeMs, slotMs, slotsPerEpoch } : {}),
    nextDerivationIndex: existing?.nextDerivationIndex ?? 0,
  });
  return accept({ pool: command.pool, created: existing === undefined });
}

/** The checks of a claim's own arguments, shared with callers that want to refuse before proposing. */
export function claimArgumentsProblem(state: ReadonlyCoreState, podName: string, pool: string, count: number): Result<never> | null {
  const podProblem = leaseHolderProblem(String(podName ?? ''));
  if (podProblem) return refuse('INVALID_ARGUMENT', podProblem);
  const poolState = state.pools.get(pool);
  if (!poolState) return refuse('UNKNOWN_POOL', unknownPoolMessage(state, pool));
  if (!Number.isSafeInteger(count) || count < 1 || count > poolState.maxKeysPerClaim) {
    return refuse('INVALID_ARGUMENT', `key count ${String(count)} is out of range: pool ${poolState.name} allows 1..${poolState.maxKeysPerClaim} keys per claim`);
  }
  return null;
}

function claim(state: CoreState, command: ClaimCommand): Result<CommandOutcomes['Claim']> {
  const argumentsProblem = claimArgumentsProblem(state, command.podName, command.pool, command.count);
  if (argumentsProblem) return argumentsProblem;
  const pool = state.pools.get(command.pool)!;
  const signingMode = command.signingMode ?? 'unknown';
  if (!SIGNING_MODES.includes(signingMode)) return refuse('INVALID_ARGUMENT', `signing mode ${JSON.stringify(String(signingMode).slice(0, 20))} is none of ${SIGNING_MODES.join(', ')}`);

  const held = state.leases.get(command.podName);
  if (held) {
    const podUid = command.podUid ?? null;
    if (held.podUid !== podUid) {
      return refuse(
        'PREVIOUS_POD_HOLDS_LEASE',
        `an earlier pod named ${command.podName} (uid ${held.podUid ?? 'unknown'}) still holds lease ${held.leaseId}, and its containers may still be signing: this pod (uid ${podUid ?? 'unknown'}) can claim once that lease is released or expires`,
      );
    }
    if (held.pool === command.pool && held.pubKeys.length === command.count) {
      return accept({ lease: held, keys: storedKeys(state, held), existing: true, derivedCount: 0 });
    }
    return refuse(
      'LEASE_CONFLICT',
      `pod ${command.podName} already holds lease ${held.leaseId} with ${held.pubKeys.length} keys from pool ${held.pool}: release it before claiming ${command.count} from ${command.pool}`,
    );
  }

  const derived = command.derivedKeys ?? [];
  if (derived.length > 0 && pool.depositMode === 'submit') {
    return refuse('INVALID_ARGUMENT', `pool ${pool.name} deposits its new keys: they enter through AddDerivedKeys and wait for their deposit, not with a claim`);
  }
  const derivedProblem = checkDerivedKeys(state, pool, derived);
  if (derivedProblem) return derivedProblem;

  const free = firstFreeKeys(state, pool.name, command.nowMs, command.podName, command.count);
  if (free.length + derived.length < command.count) {
    const awaiting = countAwaitingDeposit(state, pool.name, command.podName);
    if (free.length + awaiting >= command.count) {
      return refuse('AWAITING_DEPOSITS', `pool ${pool.name} has ${free.length} free keys; ${awaiting} more are waiting for their deposits to be confirmed on chain: the claim can be served then`);
    }
    const missing = command.count - free.length - awaiting;
    const poolSize = countPoolKeys(state, pool.name);
    if (pool.derive && poolSize + missing <= pool.maxKeys) {
      return refuse('NEEDS_KEYS', `pool ${pool.name} needs ${missing} more keys derived`, {
        missingKeys: missing,
        nextDerivationIndex: pool.nextDerivationIndex,
      });
    }
    return poolExhausted(pool, free.length, command.count);
  }

  for (const key of derived) {
    state.keys.set(key.pubKey, newKey(key, pool.name, key.derivationIndex, command.nowMs));
  }
  pool.nextDerivationIndex += derived.length;

  // Recycle free keys first; freshly derived ones last.
  const chosen = [...free, ...derived.map((d) => state.keys.get(d.pubKey)!)].slice(0, command.count);
  state.leaseSequence += 1;
  const lease: Lease = {
    leaseId: `lease-${state.leaseSequence}`,
    podName: command.podName,
    podUid: command.podUid ?? null,
    pool: pool.name,
    pubKeys: chosen.map((k) => k.pubKey),
    ttlMs: pool.leaseTtlMs,
    grantedAtMs: command.nowMs,
    signingMode,
  };
  for (const key of chosen) {
    key.state = 'allocated';
    key.holderPod = lease.podName;
    key.leaseId = lease.leaseId;
    key.coolingUntilMs = null;
    if (key.clockWatermarksDue) {
      // freeKeys offers such a key only where the pool has a slot clock.
      key.protection = mergeProtection(key.protection, clockWatermarks(pool, command.nowMs));
      key.clockWatermarksDue = false;
    }
    endReservation(key);
  }
  state.leases.set(lease.podName, lease);
  recordAssignment(state, lease, command.nowMs);
  return accept({ lease, keys: storedKeys(state, lease), existing: false, derivedCount: derived.length });
}

/** A claim the pool cannot serve in full, even by deriving up to its maximum. */
export function poolExhausted(pool: Pool, free: number, count: number): Result<never> {
  const why = pool.derive
    ? `the pool is at its maximum of ${pool.maxKeys} keys: raise the pool's maxKeys or import keys`
    : 'deriving new keys is off for this pool: import keys or turn derivation on';
  return refuse('POOL_EXHAUSTED', `pool ${pool.name} has ${free} free keys and the claim asks for ${count}; ${why}`);
}

function storedKeys(state: CoreState, lease: Lease): NewPoolKey[] {
  return lease.pubKeys.map((pubKey) => {
    const { path, sealedSecret, protection } = state.keys.get(pubKey)!;
    return { pubKey, path, sealedSecret, protection };
  });
}

function checkDerivedKeys(state: CoreState, pool: Pool, derived: ClaimCommand['derivedKeys']): Result<never> | null {
  if (!Array.isArray(derived)) return refuse('INVALID_ARGUMENT', 'derivedKeys must be a list');
  if (derived.length === 0) return null;
  if (!pool.derive) return refuse('INVALID_ARGUMENT', `pool ${pool.name} does not derive keys, yet the claim carries derived keys`);
  const batchProblem = newKeysProblem(state, derived);
  if (batchProblem) return batchProblem;
  for (let i = 0; i < derived.length; i++) {
    if (derived[i]!.derivationIndex !== pool.nextDerivationIndex + i) {
      return refuse(
        'DERIVATION_INDEX_MISMATCH',
        `derived keys must start at index ${pool.nextDerivationIndex} of pool ${pool.name} and be consecutive; another claim derived first: derive again`,
      );
    }
  }
  if (countPoolKeys(state, pool.name) + derived.length > pool.maxKeys) {
    return refuse('POOL_FULL', `pool ${pool.name} would exceed its maximum of ${pool.maxKeys} keys`);
  }
  return null;
}

export function newKeysProblem(state: CoreState, keys: readonly NewPoolKey[]): Result<never> | null {
  const seen = new Set<string>();
  for (const key of keys) {
    if (typeof key?.pubKey !== 'string' || !PUBKEY.test(key.pubKey)) {
      return refuse('INVALID_ARGUMENT', `public key ${JSON.stringify(String(key?.pubKey).slice(0, 110))} is not 0x followed by 96 lowercase hex digits`);
    }
    if (typeof key.path !== 'string' || typeof key.sealedSecret !== 'string' || key.sealedSecret.length === 0) {
      return refuse('INVALID_ARGUMENT', `key ${key.pubKey} lacks its path or sealed secret`);
    }
    if (key.protection !== undefined && key.protection !== null && protectionProblem(key.protection)) {
      return refuse('INVALID_INTERCHANGE', `slashing protection of ${key.pubKey}: ${protectionProblem(key.protection)}`);
    }
    if (state.keys.has(key.pubKey) || seen.has(key.pubKey)) {
      return refuse('DUPLICATE_KEY', `key ${key.pubKey} is already in a pool (or listed twice): each key may enter the pool once`);
    }
    seen.add(key.pubKey);
  }
  return null;
}

function release(state: CoreState, command: ReleaseCommand): Result<CommandOutcomes['Release']> {
  const found = findLease(state, command.podName, command.leaseId);
  if (!found.ok) return found;
  const lease = found.value;
  if (lease.podUid !== null && lease.podUid !== command.podUid) {
    return refuse('LEASE_NOT_FOUND', `lease ${lease.leaseId} belongs to an earlier pod named ${lease.podName} (uid ${lease.podUid}), not this one: it ends when that pod releases it or it expires`);
  }
  const pool = state.pools.get(lease.pool)!;
  const protection = command.protection ?? {};
  const problem = releaseProtectionProblem(lease, pool, command);
  if (problem) return problem;
  const quarantined: string[] = [];
  // Files a client has read stay loaded whatever happens to the files: such keys are never proven out.
  const provable = lease.signingMode === 'signer' || lease.signingMode === 'keymanager';
  for (const pubKey of lease.pubKeys) {
    const key = state.keys.get(pubKey)!;
    const reported = protection[pubKey];
    key.protection = mergeProtection(key.protection, reported ?? null);
    key.holderPod = null;
    key.leaseId = null;
    key.coolingUntilMs = null;
    if (provable && reported !== undefined) {
      // The agent proved the key left the client and handed back its final watermarks: free at once.
      key.state = 'unallocated';
      key.clockWatermarksDue = false;
    } else {
      quarantineKey(key, lease, lease.signingMode === 'files' ? 'files_mode' : 'unproven_release', command.nowMs);
      quarantined.push(pubKey);
    }
  }
  state.leases.delete(lease.podName);
  closeAssignment(state, lease, command.reason === 'fenced' ? 'fenced' : 'released', command.nowMs, pool.historyRetentionMs);
  return accept({ lease, quarantined, coolingUntilMs: null });
}

function releaseProtectionProblem(lease: Lease, pool: Pool, command: ReleaseCommand): Result<never> | null {
  if (command.reason !== undefined && command.reason !== 'released' && command.reason !== 'fenced') {
    return refuse('INVALID_ARGUMENT', `release reason ${JSON.stringify(String(command.reason).slice(0, 20))} is neither released nor fenced`);
  }
  if (command.protection === undefined) return null;
  if (command.genesisValidatorsRoot !== pool.genesisValidatorsRoot) {
    return refuse('INVALID_INTERCHANGE', `the slashing protection is for genesis validators root ${String(command.genesisValidatorsRoot).slice(0, 66)}, but pool ${pool.name} is on ${pool.genesisValidatorsRoot}: it comes from another network`);
  }
  for (const [pubKey, protection] of Object.entries(command.protection)) {
    if (!lease.pubKeys.includes(pubKey)) return refuse('INVALID_INTERCHANGE', `the slashing protection names key ${pubKey.slice(0, 98)}, which lease ${lease.leaseId} does not hold`);
    const problem = protectionProblem(protection);
    if (problem) return refuse('INVALID_INTERCHANGE', `slashing protection of ${pubKey}: ${problem}`);
  }
  return null;
}

function expireLease(state: CoreState, command: ExpireLeaseCommand): Result<CommandOutcomes['ExpireLease']> {
  const found = findLease(state, command.podName, command.leaseId);
  if (!found.ok) return found;
  const lease = found.value;
  const pool = state.pools.get(lease.pool)!;
  const renewed = command.protection ?? {};
  for (const [pubKey, protection] of Object.entries(renewed)) {
    if (!lease.pubKeys.includes(pubKey)) return refuse('INVALID_INTERCHANGE', `the renewals' slashing protection names key ${pubKey.slice(0, 98)}, which lease ${lease.leaseId} does not hold`);
    const problem = protectionProblem(protection);
    if (problem) return refuse('INVALID_INTERCHANGE', `slashing protection of ${pubKey}: ${problem}`);
  }
  // A remote-signer agent signs nothing at or after its deadline, which falls before this expiry (S2):
  // its keys stopped signing. Any other client may still hold them: they wait for proof.
  const stopped = lease.signingMode === 'signer';
  const coolingUntilMs = stopped && pool.coolingMs > 0 ? command.nowMs + pool.coolingMs : null;
  const quarantined: string[] = [];
  for (const pubKey of lease.pubKeys) {
    const key = state.keys.get(pubKey)!;
    key.protection = mergeProtection(key.protection, renewed[pubKey] ?? null);
    key.holderPod = null;
    key.leaseId = null;
    // Whatever was signed after the last renewal is unknown: the next claim raises the watermarks (S8).
    if (stopped) {
      key.state = coolingUntilMs === null ? 'unallocated' : 'cooling';
      key.coolingUntilMs = coolingUntilMs;
      key.clockWatermarksDue = true;
    } else {
      key.coolingUntilMs = null;
      quarantineKey(key, lease, lease.signingMode === 'files' ? 'files_mode' : 'expired', command.nowMs);
      quarantined.push(pubKey);
    }
  }
  state.leases.delete(lease.podName);
  closeAssignment(state, lease, 'expired', command.nowMs, pool.historyRetentionMs);
  return accept({ lease, coolingUntilMs, quarantined });
}

function addDerivedKeys(state: CoreState, command: AddDerivedKeysCommand): Result<CommandOutcomes['AddDerivedKeys']> {
  const pool = state.pools.get(command.pool);
  if (!pool) return refuse('UNKNOWN_POOL', unknownPoolMessage(state, command.pool));
  if (pool.depositMode !== 'submit') return refuse('INVALID_ARGUMENT', `pool ${pool.name} does not deposit its keys: derived keys come with a claim`);
  const problem = addDerivedKeysProblem(command) ?? checkDerivedKeys(state, pool, command.keys);
  if (problem) return problem;
  const deposit = { ...AWAITING, reservedFor: typeof command.reservedFor === 'string' ? command.reservedFor : null };
  for (const key of command.keys) state.keys.set(key.pubKey, { ...newKey(key, pool.name, key.derivationIndex, command.nowMs), deposit });
  pool.nextDerivationIndex += command.keys.length;
  return accept({ added: command.keys.map((k) => k.pubKey) });
}

function removeKeys(state: CoreState, command: RemoveKeysCommand): Result<CommandOutcomes['RemoveKeys']> {
  const pool = state.pools.get(command.pool);
  if (!pool) return refuse('UNKNOWN_POOL', unknownPoolMessage(state, command.pool));
  if (!Array.isArray(command.pubKeys) || command.pubKeys.length === 0) return refuse('INVALID_ARGUMENT', 'removal names no keys');
  for (const pubKey of command.pubKeys) {
    const key = state.keys.get(pubKey);
    if (!key || key.pool !== pool.name) return refuse('KEY_NOT_FOUND', `key ${String(pubKey).slice(0, 98)} is not in pool ${pool.name}`);
    if (key.deposit && key.deposit.status !== 'confirmed') {
      return refuse('KEY_IN_USE', `key ${pubKey} has a deposit under way (${key.deposit.status}): it cannot leave the pool until the deposit is confirmed`);
    }
    if (key.state !== 'unallocated') {
      return refuse('KEY_IN_USE', `key ${pubKey} is ${key.state}${key.holderPod ? ` by pod ${key.holderPod}` : ''}: only unallocated keys can be removed; release it (or wait for cooling) first`);
    }
  }
  const removed = [...new Set(command.pubKeys)].map((pubKey) => {
    const key = state.keys.get(pubKey)!;
    state.keys.delete(pubKey);
    return { pubKey, protection: key.protection };
  });
  return accept({ removed });
}

function importKeys(state: CoreState, command: ImportKeysCommand): Result<CommandOutcomes['ImportKeys']> {
  const pool = state.pools.get(command.pool);
  if (!pool) return refuse('UNKNOWN_POOL', unknownPoolMessage(state, command.pool));
  if (!Array.isArray(command.keys) || command.keys.length === 0) return refuse('INVALID_ARGUMENT', 'import names no keys');
  const problem = newKeysProblem(state, command.keys);
  if (problem) return problem;
  const poolSize = countPoolKeys(state, pool.name);
  if (poolSize + command.keys.length > pool.maxKeys) {
    return refuse('POOL_FULL', `pool ${pool.name} holds ${poolSize} of at most ${pool.maxKeys} keys; importing ${command.keys.length} more would exceed it`);
  }
  for (const key of command.keys) state.keys.set(key.pubKey, newKey(key, pool.name, null, command.nowMs));
  return accept({ imported: command.keys.map((k) => k.pubKey) });
}

function finishCooling(state: CoreState, command: FinishCoolingCommand): Result<CommandOutcomes['FinishCooling']> {
  const returned: string[] = [];
  for (const key of state.keys.values()) {
    if (key.state === 'cooling' && key.coolingUntilMs !== null && key.coolingUntilMs <= command.nowMs) {
      key.state = 'unallocated';
      key.coolingUntilMs = null;
      returned.push(key.pubKey);
    }
  }
  return accept({ returned });
}

function findLease(state: CoreState, podName: string, leaseId: string): Result<Lease> {
  const lease = state.leases.get(podName);
  if (!lease || lease.leaseId !== leaseId) {
    return refuse('LEASE_NOT_FOUND', `pod ${String(podName).slice(0, 253)} holds no lease ${String(leaseId).slice(0, 40)}: it was released or expired; claim again`);
  }
  return accept(lease);
}

export function newKey(key: NewPoolKey, pool: string, derivationIndex: number | null, nowMs: number): PoolKey {
  return {
    pubKey: key.pubKey,
    pool,
    derivationIndex,
    path: key.path,
    sealedSecret: heldSealedSecret(key.sealedSecret),
    addedAtMs: nowMs,
    state: 'unallocated',
    holderPod: null,
    leaseId: null,
    coolingUntilMs: null,
    quarantine: null,
    clockWatermarksDue: false,
    protection: key.protection ?? null,
    deposit: null,
  };
}

/** Keys of a pool that a claim at `nowMs` (by `podName`, if given) may take, oldest first, so recycling is predictable. */
export function countPoolKeys(state: Pick<ReadonlyCoreState, 'keys'>, pool: string): number {
  let count = 0;
  for (const key of state.keys.values()) if (key.pool === pool) count++;
  return count;
}

export function unknownPoolMessage(state: ReadonlyCoreState, pool: string): string {
  const known = [...state.pools.keys()].sort().join(', ') || 'none';
  return `unknown pool ${JSON.stringify(String(pool).slice(0, 63))}: known pools are ${known}`;
}
