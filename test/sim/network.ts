import type { Message, NodeId } from '../../coordinator/raft/types.js';
import type { Scheduler } from './scheduler.js';

export interface LinkFaults {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicate: number;
  /** Delay range in virtual ms; independent delays reorder messages. */
  minDelay: number;
  maxDelay: number;
}

export const PERFECT_LINKS: LinkFaults = { loss: 0, duplicate: 0, minDelay: 1, maxDelay: 1 };

/**
 * The simulated network. A cut link drops what would arrive over it while it is cut (a message sent
 * just before a partition is lost, one sent just before a heal may arrive). Cuts are directional, so
 * one-way partitions are as easy as symmetric ones.
 */
export class Network {
  links: LinkFaults = PERFECT_LINKS;
  private readonly cut = new Set<string>();
  /** Messages sent, including lost ones: a measure of work for the figures. */
  sent = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: () => number,
    private readonly deliver: (m: Message) => void,
  ) {}

  send(messages: readonly Message[]): void {
    for (const m of messages) {
      this.sent++;
      if (this.random() < this.links.loss) continue;
      this.schedule(m);
      if (this.random() < this.links.duplicate) this.schedule(m);
    }
  }

  private schedule(m: Message): void {
    const { minDelay, maxDelay } = this.links;
    const delay = minDelay + Math.floor(this.random() * (maxDelay - minDelay + 1));
    this.scheduler.after(delay, () => {
      if (!this.cut.has(link(m.from, m.to))) this.deliver(m);
    });
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(link(from, to));
  }

  /** Cuts every link between the two groups, both ways. */
  partition(groupA: readonly NodeId[], groupB: readonly NodeId[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.cutOneWay(a, b);
        this.cutOneWay(b, a);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }
}

function link(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
