import type { ChainSighting, DerivedPoolKey } from '../core/index.js';
import type { ChainLookup } from '../deposits/chain-lookup.js';
import type { PoolSecrets } from '../keys/pool-secrets.js';
import type { ReplicatedLog } from '../replication/types.js';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';

export interface PoolRestorerOptions {
  readonly pool: string;
  /** Unseen keys in a row that end the scan. */
  readonly gap: number;
}

/**
 * Rebuilds the pool's view from the chain when a leader starts: on a fresh or restored data directory
 * under an existing mnemonic, keys past the pool's next derivation index may already be deposited and
 * signing in another pool. It derives them, looks each up on chain, and commits the ones in use as
 * foreign (never paid for, never handed out until an operator clears them), up to the first `gap`
 * unseen keys in a row; derivation then continues after the last one found. Claims that must derive
 * wait for the scan, so no index it covers is handed out before it is looked up.
 */
export class PoolRestorer {
  private scan: Promise<void> | null = null;

  constructor(
    private readonly log: ReplicatedLog,
    private readonly secrets: PoolSecrets,
    private readonly lookup: ChainLookup,
    private readonly options: PoolRestorerOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Called on every leadership change: each new leader scans once more (its predecessor may not have). */
  onLeadershipChange(isLeader: boolean): void {
    this.scan = null;
    if (isLeader) this.ensureScanned().catch(() => {}); // reported inside; a claim that derives retries it
  }

  /** Resolves once this leader has scanned; a failed scan is tried again by the next caller. */
  ensureScanned(): Promise<void> {
    if (!this.scan) {
      const run = this.run().catch((error: unknown) => {
        if (this.scan === run) this.scan = null;
        this.logger.warn('restore scan failed: keys past the pool\'s next index are not derived until it succeeds', { pool: this.options.pool, error: error as Error });
        throw new KeyleaseError('CHAIN_LOOKUP', `the pool looks derived keys up on chain before handing out new ones, and that failed (${(error as Error).message}); retry the claim`);
      });
      this.scan = run;
    }
    return this.scan;
  }

  private async run(): Promise<void> {
    const { pool, gap } = this.options;
    const startIndex = this.log.peek((state) => state.pools.get(pool)?.nextDerivationIndex);
    if (startIndex === undefined) return;
    let committedNext = startIndex;
    let next = startIndex;
    let lastSeen = startIndex - 1;
    let restored = 0;
    this.logger.info('restore scan: looking derived keys up on chain', { pool, fromIndex: startIndex, gap });
    while (next - lastSeen - 1 < gap) {
      const count = lastSeen + 1 + gap - next;
      const keys = await this.secrets.deriveKeys(pool, next, count);
      const sightings = await this.lookup.find(keys.map((k) => k.pubKey));
      const found: Array<{ key: DerivedPoolKey; sighting: ChainSighting }> = [];
      for (const key of keys) {
        const sighting = sightings.get(key.pubKey);
        if (!sighting) continue;
        found.push({ key, sighting });
        lastSeen = key.derivationIndex;
      }
      next += count;
      if (found.length > 0) {
        const result = await this.log.propose({ type: 'RestoreKeys', nowMs: this.clock.wallMs(), pool, fromIndex: committedNext, nextDerivationIndex: lastSeen + 1, keys: found });
        if (!result.ok) throw new KeyleaseError('CHAIN_LOOKUP', `restored keys not committed: ${result.refusal.message}`);
        committedNext = lastSeen + 1;
        restored += found.length;
      }
      this.logger.info('restore scan progress', { pool, scannedThroughIndex: next - 1, foundOnChain: restored });
    }
    if (restored === 0) {
      this.logger.info('restore scan: no derived key past the pool\'s next index is in use on chain', { pool, fromIndex: startIndex, scannedThroughIndex: next - 1 });
      return;
    }
    this.logger.warn('restore scan: keys in use on chain entered the pool as foreign; they are not handed out until their slashing protection is imported or an operator confirms them (keylease pool foreign|import-protection|confirm-foreign)', { pool, keys: restored, nextDerivationIndex: committedNext });
  }
}
