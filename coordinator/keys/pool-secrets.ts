import type { DerivedPoolKey, NewPoolKey } from '../core/index.js';
import { deriveSigningKey } from './derive.js';
import { openPoolKey, sealNewKey, type OpenedPoolKey } from './pool-key.js';

export type DerivationProgress = (done: number, total: number) => void;

/**
 * The coordinator's secrets for its pools: the key-encryption key and each pool's seed. Derives new
 * keys (encrypting each keystore once, as the key enters the pool) and opens sealed keys for a claim.
 */
export class PoolSecrets {
  constructor(
    private readonly kek: Buffer,
    private readonly seedsByPool: ReadonlyMap<string, Uint8Array>,
  ) {}

  canDerive(pool: string): boolean {
    return this.seedsByPool.has(pool);
  }

  async deriveKeys(pool: string, fromIndex: number, count: number, onProgress?: DerivationProgress): Promise<DerivedPoolKey[]> {
    const seed = this.seedsByPool.get(pool);
    if (!seed) throw new Error(`pool ${pool} has no mnemonic configured`);
    const keys: DerivedPoolKey[] = [];
    for (let i = 0; i < count; i++) {
      const index = fromIndex + i;
      const { privKey, pubKey, path } = deriveSigningKey(seed, index);
      const sealed = await sealNewKey(this.kek, privKey, pubKey, path);
      privKey.fill(0);
      keys.push({ ...sealed, derivationIndex: index });
      onProgress?.(i + 1, count);
    }
    return keys;
  }

  open(key: NewPoolKey): OpenedPoolKey {
    return openPoolKey(this.kek, key);
  }
}
