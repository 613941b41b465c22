import * as assert from 'uvu/assert';
import { applyCommand, createEmptyState, type Command, type CommandOutcomes, type CommandResult, type CoreState, type DerivedPoolKey, type PoolSettings } from '../../coordinator/core/index.js';

export const MAINNET_GVR = '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95';

/** A well-formed public key for derivation index `index` (not a real BLS key: the core only checks its form). */
export function pubKeyAt(index: number): string {
  return '0x' + index.toString(16).padStart(8, '0').padEnd(96, 'b');
}

export function derivedKey(index: number): DerivedPoolKey {
  return { pubKey: pubKeyAt(index), path: `m/12381/3600/${index}/0/0`, sealedSecret: `sealed-${index}`, derivationIndex: index };
}

/** A state holding pool `default` with the given settings over sensible defaults. */
export function stateWithPool(settings: Partial<PoolSettings> = {}, nowMs = 1_000): CoreState {
  const state = createEmptyState();
  accepted(applyCommand(state, {
    type: 'ConfigurePool',
    nowMs,
    pool: 'default',
    settings: { derive: true, maxKeys: 100, maxKeysPerClaim: 8, coolingMs: 0, leaseTtlMs: 5000, genesisValidatorsRoot: MAINNET_GVR, historyRetentionMs: 60_000, depositMode: 'none', ...settings },
  }));
  return state;
}

export function accepted<T>(result: { ok: true; value: T } | { ok: false; refusal: { code: string; message: string } }): T {
  if (!result.ok) assert.unreachable(`refused ${result.refusal.code}: ${result.refusal.message}`);
  return (result as { value: T }).value;
}

/** Applies a command that must be accepted; returns its outcome, typed by the command. */
export function applied<C extends Command>(state: CoreState, command: C): CommandOutcomes[C['type']] {
  return accepted(applyCommand(state, command)) as CommandOutcomes[C['type']];
}

/** Applies a command that must be refused, and checks it changed nothing. */
export function refused(state: CoreState, command: Command, code: string): string {
  const before = JSON.stringify([...state.keys.values()]) + JSON.stringify([...state.pools.values()]);
  const result: CommandResult = applyCommand(state, command);
  if (result.ok) assert.unreachable(`expected ${code}, but ${command.type} was accepted`);
  const refusal = (result as { refusal: { code: string; message: string } }).refusal;
  assert.is(refusal.code, code, refusal.message);
  assert.is(JSON.stringify([...state.keys.values()]) + JSON.stringify([...state.pools.values()]), before, 'a refused command changed the state');
  return refusal.message;
}
