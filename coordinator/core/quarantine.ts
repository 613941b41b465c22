import type { CommandOutcomes, HolderGoneCommand, ProveRemovalCommand, ReleaseQuarantineCommand } from './commands.js';
import { mergeProtection, protectionProblem } from './protection.js';
import { accept, refuse, type Result } from './refusal.js';
import type { CoreState, Lease, PoolKey, QuarantineCause } from './types.js';

/**
 * S7, no proof, no reuse: a key whose last holder may still be signing waits here. It leaves only when
 * Kubernetes shows that pod gone (HolderGone: then it cools down like any other), when that pod's agent
 * proves the client let go (ProveRemoval), or when an operator confirms (ReleaseQuarantine).
 */
export function quarantineKey(key: PoolKey, lease: Lease, cause: QuarantineCause, nowMs: number): void {
  key.state = 'quarantined';
  key.quarantine = { podName: lease.podName, podUid: lease.podUid, leaseId: lease.leaseId, sinceMs: nowMs, cause };
  key.clockWatermarksDue = true;
}

function leaveQuarantine(key: PoolKey): void {
  key.quarantine = null;
  key.state = 'unallocated';
}

export function holderGone(state: CoreState, command: HolderGoneCommand): Result<CommandOutcomes['HolderGone']> {
  if (typeof command.podName !== 'string' || command.podName === '') return refuse('INVALID_ARGUMENT', 'HolderGone names no pod');
  const podUid = command.podUid ?? null;
  const cooling: string[] = [];
  let earliestEnd: number | null = null;
  for (const key of state.keys.values()) {
    const held = key.quarantine;
    if (key.state !== 'quarantined' || held === null || held.podName !== command.podName || held.podUid !== podUid) continue;
    const pool = state.pools.get(key.pool)!;
    // The cooling time runs from the lease's end, as for any key: a pod gone later waits no longer.
    const until = Math.max(held.sinceMs + pool.coolingMs, command.nowMs);
    key.quarantine = null;
    key.state = 'cooling';
    key.coolingUntilMs = until;
    cooling.push(key.pubKey);
    earliestEnd = earliestEnd === null ? until : Math.min(earliestEnd, until);
  }
  return accept({ cooling, coolingUntilMs: earliestEnd });
}

export function proveRemoval(state: CoreState, command: ProveRemovalCommand): Result<CommandOutcomes['ProveRemoval']> {
  if (typeof command.podName !== 'string' || command.podName === '') return refuse('INVALID_ARGUMENT', 'the proof names no pod');
  if (!Array.isArray(command.pubKeys) || command.pubKeys.length === 0) return refuse('INVALID_ARGUMENT', 'the proof names no keys');
  const protection = command.protection ?? {};
  for (const [pubKey, marks] of Object.entries(protection)) {
    if (!command.pubKeys.includes(pubKey)) return refuse('INVALID_INTERCHANGE', `the slashing protection names key ${pubKey.slice(0, 98)}, which the proof does not`);
    const problem = protectionProblem(marks);
    if (problem) return refuse('INVALID_INTERCHANGE', `slashing protection of ${pubKey}: ${problem}`);
  }
  const podUid = command.podUid ?? null;
  const eligible: PoolKey[] = [];
  for (const pubKey of new Set(command.pubKeys)) {
    const key = state.keys.get(pubKey);
    const held = key?.quarantine;
    // Keys not (or no longer) quarantined for this pod are ignored: a repeated proof is harmless.
    if (!key || key.state !== 'quarantined' || !held || held.podName !== command.podName) continue;
    if (held.podUid !== null && held.podUid !== podUid) continue;
    // Files a client has read stay loaded: nothing the agent says proves them gone.
    if (held.cause === 'files_mode') continue;
    const pool = state.pools.get(key.pool)!;
    if (protection[pubKey] !== undefined && command.genesisValidatorsRoot !== pool.genesisValidatorsRoot) {
      return refuse('INVALID_INTERCHANGE', `the slashing protection is for genesis validators root ${String(command.genesisValidatorsRoot).slice(0, 66)}, but pool ${pool.name} is on ${pool.genesisValidatorsRoot}`);
    }
    eligible.push(key);
  }
  for (const key of eligible) {
    const reported = protection[key.pubKey];
    key.protection = mergeProtection(key.protection, reported ?? null);
    // The client's own export is final; without it the watermarks still come from the clock.
    if (reported !== undefined) key.clockWatermarksDue = false;
    leaveQuarantine(key);
  }
  return accept({ returned: eligible.map((k) => k.pubKey) });
}

export function releaseQuarantine(state: CoreState, command: ReleaseQuarantineCommand): Result<CommandOutcomes['ReleaseQuarantine']> {
  if (!Array.isArray(command.pubKeys) || command.pubKeys.length === 0) return refuse('INVALID_ARGUMENT', 'name the quarantined keys to release');
  const pool = state.pools.get(command.pool);
  if (!pool) return refuse('UNKNOWN_POOL', `unknown pool ${JSON.stringify(String(command.pool).slice(0, 63))}`);
  const notQuarantined = command.pubKeys.filter((pubKey) => {
    const key = state.keys.get(pubKey);
    return !key || key.pool !== pool.name || key.state !== 'quarantined';
  });
  if (notQuarantined.length > 0) {
    return refuse('KEY_NOT_FOUND', `not quarantined in pool ${pool.name}: ${notQuarantined.slice(0, 5).map((k) => String(k).slice(0, 98)).join(', ')}${notQuarantined.length > 5 ? ` and ${notQuarantined.length - 5} more` : ''}; nothing was released`);
  }
  const released = [...new Set(command.pubKeys)];
  // The clock-watermark flag stays: the next claim raises the watermarks (S8).
  for (const pubKey of released) leaveQuarantine(state.keys.get(pubKey)!);
  return accept({ released });
}
