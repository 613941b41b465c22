import type { DerivedPoolKey, NewPoolKey } from '../core/index.js';
import { DerivationPool, type DerivationObserver, type DerivationProgress } from './derivation-pool.js';
import { openPoolKey, sealImportedKeystore, type OpenedPoolKey } from './pool-key.js';

/**
 * The coordinator's secrets for its pools: the key-encryption key and each pool's seed. Derives new
 * keys on worker threads, one per core (encrypting each keystore once, as the key enters the pool), and
 * opens sealed keys for a claim. `derivationWorkers` bounds the threads deriving at a time (CPU pressure lowers it).
 */
export class PoolSecrets {
  private readonly derivation: DerivationPool;

  constructor(
    private readonly kek: Buffer,
    private readonly seedsByPool: ReadonlyMap<string, Uint8Array>,
    options: { derivationWorkers?: () => number } = {},
  ) {
    this.derivation = new DerivationPool(undefined, options.derivationWorkers);
    if (seedsByPool.size > 0) this.derivation.warmUp();
  }

  /** Where each derived key and the derivation backlog are reported (metrics). */
  observeDerivation(observer: DerivationObserver): void {
    this.derivation.observer = observer;
  }

  canDerive(pool: string): boolean {
    return this.seedsByPool.has(pool);
  }

  deriveKeys(pool: string, fromIndex: number, count: number, onProgress?: DerivationProgress): Promise<DerivedPoolKey[]> {
    const seed = this.seedsByPool.get(pool);
    if (!seed) throw new Error(`pool ${pool} has no mnemonic configured`);
    return this.derivation.derive(seed, this.kek, fromIndex, count, onProgress);
  }

  /** Checks an operator's keystore against its password and public key, and seals it for the pool. */
  sealImported(keystoreJson: string, keystorePassword: string): Promise<NewPoolKey> {
    return sealImportedKeystore(this.kek, keystoreJson, keystorePassword);
  }

  open(key: NewPoolKey): OpenedPoolKey {
    return openPoolKey(this.kek, key);
  }

  close(): Promise<void> {
    return this.derivation.close();
  }
}
