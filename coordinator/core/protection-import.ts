import type { CommandOutcomes, ImportProtectionCommand } from './commands.js';
import { unknownPoolMessage } from './apply.js';
import { isForeign } from './foreign.js';
import { mergeProtection, protectionProblem, type KeyProtection } from './protection.js';
import { accept, refuse, type Result } from './refusal.js';
import type { CoreState } from './types.js';

/**
 * Merges imported slashing protection into keys of the pool. Nothing is dropped: protection naming a
 * key outside the pool refuses the whole import (naming every such key), and a watermark never moves
 * down. Protection arriving for a foreign key is what lets it be handed out.
 */
export function importProtection(state: CoreState, command: ImportProtectionCommand): Result<CommandOutcomes['ImportProtection']> {
  const pool = state.pools.get(command.pool);
  if (!pool) return refuse('UNKNOWN_POOL', unknownPoolMessage(state, command.pool));
  if (command.genesisValidatorsRoot !== pool.genesisValidatorsRoot) {
    return refuse('INVALID_INTERCHANGE', `the slashing protection is for genesis validators root ${String(command.genesisValidatorsRoot).slice(0, 66)}, but pool ${pool.name} is on ${pool.genesisValidatorsRoot}: it comes from another network`);
  }
  const entries = Object.entries(command.protection ?? {});
  if (entries.length === 0) return refuse('INVALID_ARGUMENT', 'the slashing protection names no keys');
  const outside = entries.filter(([pubKey]) => state.keys.get(pubKey)?.pool !== pool.name).map(([pubKey]) => pubKey.slice(0, 98));
  if (outside.length > 0) return refuse('KEY_NOT_FOUND', `slashing protection names keys that are not in pool ${pool.name}, so nothing was imported: ${outside.join(', ')}`);
  for (const [pubKey, protection] of entries) {
    const problem = protectionProblem(protection);
    if (problem) return refuse('INVALID_INTERCHANGE', `slashing protection of ${pubKey}: ${problem}`);
  }
  const keys = entries.map(([pubKey, protection]) => {
    const key = state.keys.get(pubKey)!;
    const before = key.protection;
    const after = mergeProtection(before, protection);
    const wasForeign = isForeign(key);
    key.protection = after;
    if (wasForeign) key.foreign = null;
    return { pubKey, before, after, raised: !sameProtection(before, after), wasForeign };
  });
  return accept({ keys });
}

function sameProtection(a: KeyProtection | null, b: KeyProtection | null): boolean {
  return a?.maxBlockSlot === b?.maxBlockSlot && a?.maxSourceEpoch === b?.maxSourceEpoch && a?.maxTargetEpoch === b?.maxTargetEpoch;
}
