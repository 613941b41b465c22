import type { PodRef, ReadonlyCoreState } from '../core/index.js';
import type { ReplicatedLog } from '../replication/types.js';
import type { Logger } from '../../shared/log/logger.js';

/** Whether Kubernetes shows this pod gone (deleted, replaced by another uid, or finished); false when unsure. */
export type PodGoneCheck = (pod: PodRef) => boolean;

/**
 * On the leader: looks at the pods that last held quarantined keys and, for each one Kubernetes shows
 * gone, proposes HolderGone, after which the keys cool down and return (S7). A pod the watch cannot
 * speak for (not synced, namespace not watched) counts as alive: its keys stay where they are.
 */
export class QuarantineKeeper {
  /** Holders whose HolderGone is in flight, so one tick does not propose it twice. */
  private readonly proposing = new Set<string>();

  constructor(
    private readonly log: ReplicatedLog,
    private readonly isGone: PodGoneCheck,
    private readonly wallMs: () => number,
    private readonly logger: Logger,
  ) {}

  async tick(): Promise<void> {
    if (!this.log.isLeader()) return;
    const holders = this.log.peek(quarantinedHolders);
    const gone = holders.filter((holder) => !this.proposing.has(holderKey(holder)) && this.isGone(holder));
    await Promise.all(gone.map((holder) => this.propose(holder)));
  }

  private async propose(holder: PodRef): Promise<void> {
    const key = holderKey(holder);
    this.proposing.add(key);
    try {
      const result = await this.log.propose({ type: 'HolderGone', nowMs: this.wallMs(), podName: holder.podName, podUid: holder.podUid });
      if (result.ok && result.value.cooling.length > 0) {
        this.logger.info('the pod that last held quarantined keys is gone: they cool down and return', { podName: holder.podName, podUid: holder.podUid, keys: result.value.cooling.length });
      }
    } catch (error) {
      this.logger.warn('proposing the end of a quarantine failed; will retry', { podName: holder.podName, error });
    } finally {
      this.proposing.delete(key);
    }
  }
}

function holderKey(holder: PodRef): string {
  return `${holder.podName}\u0000${holder.podUid ?? ''}`;
}

/** Every distinct last holder of a quarantined key. */
export function quarantinedHolders(state: ReadonlyCoreState): PodRef[] {
  const holders = new Map<string, PodRef>();
  for (const key of state.keys.values()) {
    if (key.state !== 'quarantined' || !key.quarantine) continue;
    const holder = { podName: key.quarantine.podName, podUid: key.quarantine.podUid };
    holders.set(holderKey(holder), holder);
  }
  return [...holders.values()];
}
