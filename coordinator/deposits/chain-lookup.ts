import type { ChainSighting } from '../core/index.js';
import type { BeaconValidators } from './beacon-validators.js';
import type { DepositEventRecord } from './deposit-events.js';
import type { ScanProgress } from './deposit-event-scan.js';

/** Where DepositEvents come from: the deposit sender, or a read-only reader of the contract. */
export interface DepositEventSource {
  latestBlock(): Promise<number>;
  findDepositEvents(pubKeys: readonly string[], fromBlock: number, toBlock: number, onProgress?: ScanProgress): Promise<DepositEventRecord[]>;
}

/** Keys remembered as scanned; past this the memory starts over (a fresh full scan). */
const MAX_WATCHED = 20_000;

/**
 * Answers "is this derived key in use on chain?" before the pool pays for it or hands it out: a
 * DepositEvent on the deposit contract (from its creation block) or a beacon node that knows it.
 * Keys asked about before are only looked for in blocks added since (a deposit retried every round
 * costs one small eth_getLogs, not a scan of the chain's history).
 */
export class ChainLookup {
  private scannedTo: number | null = null;
  private readonly watched = new Set<string>();
  /** The first DepositEvent seen of each watched key. */
  private readonly events = new Map<string, DepositEventRecord>();

  constructor(
    private readonly source: DepositEventSource | null,
    private readonly beacon: BeaconValidators | null,
    private readonly fromBlock: number,
  ) {}

  /** Sightings of the keys the chain shows in use; keys it does not show are absent. */
  async find(pubKeys: readonly string[], onProgress?: ScanProgress): Promise<Map<string, ChainSighting>> {
    if (this.source) await this.scan(pubKeys, onProgress);
    const statuses = this.beacon ? await this.beacon.statuses(pubKeys) : new Map<string, string | null>();
    const found = new Map<string, ChainSighting>();
    for (const pubKey of pubKeys) {
      const event = this.events.get(pubKey) ?? null;
      const beaconStatus = statuses.get(pubKey) ?? null;
      if (event === null && beaconStatus === null) continue;
      found.set(pubKey, {
        depositTxHash: event ? event.txHash.toLowerCase() : null,
        depositBlockNumber: event ? event.blockNumber : null,
        withdrawalCredentials: event ? event.withdrawalCredentials : null,
        beaconStatus,
      });
    }
    return found;
  }

  private async scan(pubKeys: readonly string[], onProgress?: ScanProgress): Promise<void> {
    const source = this.source!;
    const latest = await source.latestBlock();
    if (this.watched.size + pubKeys.length > MAX_WATCHED) this.forgetAll();
    const fresh = [...new Set(pubKeys)].filter((pubKey) => !this.watched.has(pubKey));
    // New keys: their whole history up to where the others were scanned; then every key, for the blocks since.
    const upTo = Math.min(this.scannedTo ?? latest, latest);
    if (fresh.length > 0) this.remember(await source.findDepositEvents(fresh, this.fromBlock, upTo, onProgress));
    for (const pubKey of fresh) this.watched.add(pubKey);
    if (upTo < latest) this.remember(await source.findDepositEvents([...this.watched], upTo + 1, latest));
    this.scannedTo = Math.max(upTo, latest);
  }

  private remember(events: readonly DepositEventRecord[]): void {
    for (const event of events) if (!this.events.has(event.pubKey)) this.events.set(event.pubKey, event);
  }

  private forgetAll(): void {
    this.watched.clear();
    this.events.clear();
    this.scannedTo = null;
  }
}
