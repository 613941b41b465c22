import type { ReadonlyCoreState } from './core/index.js';
import type { PoolSecrets } from './keys/pool-secrets.js';
import { deriveSigningKey } from './keys/derive.js';
import { ConfigError } from '../shared/errors/keylease-error.js';

/**
 * Refuses to start with a key-encryption key or mnemonic other than the ones the data was made with:
 * a wrong KEK would make every claim fail, a wrong mnemonic would mix two key trees in one pool.
 */
export function checkSecretsMatchPool(state: ReadonlyCoreState, pool: string, secrets: PoolSecrets, seed?: Uint8Array): void {
  const anyKey = state.keys.values().next().value;
  if (anyKey) secrets.open(anyKey); // throws KEK_MISMATCH with its own clear message
  if (!seed) return;
  const first = [...state.keys.values()].find((k) => k.pool === pool && k.derivationIndex !== null);
  if (!first) return;
  const derived = deriveSigningKey(seed, first.derivationIndex!);
  derived.privKey.fill(0);
  const pubKey = '0x' + Buffer.from(derived.pubKey).toString('hex');
  if (pubKey !== first.pubKey) {
    throw new ConfigError(`the mnemonic in --mnemonic-file is not the one pool ${pool} was derived from (its key ${first.derivationIndex} differs): use the original mnemonic file, or a new --data-dir`);
  }
}
