import { CoordinatorClient } from '../../agent/coordinator-client.js';
import type { GrantedKey, GrantNetwork, KeyHolder } from '../../agent/key-holders.js';
import { emptyInterchange, serializeInterchange } from '../../shared/eth/slashing-protection/index.js';
import { LeaseLoop } from '../../agent/lease-loop.js';
import type { FenceCause, LeaseLoopObserver } from '../../agent/lease-observer.js';
import { systemClock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';

/**
 * Holds keys in memory as the agent's signer does, and hands back an (empty) EIP-3076 record for each
 * on removal, as the signer does: the stand-in for many pods in one process.
 */
export class InMemoryValidator implements KeyHolder {
  readonly name = 'in-memory stand-in';
  keys: readonly GrantedKey[] = [];
  private network: GrantNetwork | null = null;
  async install(keys: readonly GrantedKey[], network: GrantNetwork): Promise<void> {
    this.keys = keys;
    this.network = network;
  }
  async removeAll(): Promise<{ slashingProtection: string | null; pubKeys: readonly string[] }> {
    const pubKeys = this.keys.map((k) => k.pubKey);
    this.keys = [];
    if (!this.network || pubKeys.length === 0) return { slashingProtection: null, pubKeys };
    const interchange = emptyInterchange(this.network.genesisValidatorsRoot);
    return { slashingProtection: serializeInterchange({ ...interchange, data: pubKeys.map((pubkey) => ({ pubkey, signedBlocks: [], signedAttestations: [] })) }), pubKeys };
  }
}

/** Renewal latencies and fences of a whole fleet, split at a moment the test chooses (a failover). */
export class FleetObserver {
  phase: 'steady' | 'failover' = 'steady';
  /** Renewals per pod in the failover phase. */
  readonly renewalsInFailover = new Map<number, number>();
  readonly renewMs = { steady: [] as number[], failover: [] as number[] };
  readonly failedRenewals = { steady: 0, failover: 0 };
  /** Each fence as `phase:cause`. */
  readonly fences: string[] = [];

  /** What pod `pod`'s lease loop reports to. */
  forPod(pod: number): LeaseLoopObserver {
    return {
      onClaim: () => {},
      onRenewal: (outcome, seconds) => {
        if (outcome === 'ok') {
          this.renewMs[this.phase].push(seconds * 1000);
          if (this.phase === 'failover') this.renewalsInFailover.set(pod, (this.renewalsInFailover.get(pod) ?? 0) + 1);
        } else this.failedRenewals[this.phase]++;
      },
      onFence: (cause: FenceCause) => this.fences.push(`${this.phase}:${cause}`),
    };
  }
}

/** `pods` real lease loops (the agent's code, each with its own gRPC channels), one key each, started at once. */
export class Fleet {
  readonly observer = new FleetObserver();
  readonly loops: LeaseLoop[] = [];
  private readonly clients: CoordinatorClient[] = [];

  constructor(endpoints: readonly string[], pods: number, logger: Logger) {
    for (let i = 0; i < pods; i++) {
      const client = new CoordinatorClient(endpoints);
      this.clients.push(client);
      const loop = new LeaseLoop({ podName: `validator-${i}`, pool: 'default', keyCount: 1, holder: new InMemoryValidator(), signingMode: 'signer', client, clock: systemClock, logger, fenceMarginMs: 0, requestTimeoutMs: 5000, observer: this.observer.forPod(i) });
      this.loops.push(loop);
      void loop.start();
    }
  }

  holding(): number {
    return this.loops.filter((l) => l.currentPhase === 'holding').length;
  }

  /** Stops every loop (each releases its lease) and closes the channels; how many releases were acknowledged. */
  async stop(): Promise<number> {
    const results = await Promise.all(this.loops.map((l) => l.stop()));
    for (const client of this.clients) client.close();
    return results.filter((r) => r.handedBack).length;
  }
}
