import { TextMetrics, type Counter, type Histogram } from '../shared/metrics/text-exposition.js';
import type { AgentPhase } from './lease-loop.js';
import type { FenceCause, LeaseLoopObserver } from './lease-observer.js';

const PHASES: readonly AgentPhase[] = ['claiming', 'holding', 'fenced', 'stopped', 'failed'];

/**
 * The agent's Prometheus metrics, served on its health port: one pod's view of its own lease, so an
 * operator sees which pods came close to fencing, and why they fenced.
 */
export class AgentMetrics implements LeaseLoopObserver {
  readonly registry = new TextMetrics();
  private readonly claims: Counter<'outcome'>;
  private readonly renewals: Counter<'outcome'>;
  private readonly renewalSeconds: Histogram;
  private readonly fences: Counter<'cause'>;

  constructor() {
    this.claims = this.registry.counter('keylease_agent_claims_total', 'Claims by outcome (granted, refused by the coordinator, failed to reach it).', ['outcome']);
    this.renewals = this.registry.counter('keylease_agent_renewals_total', 'Lease renewals by outcome.', ['outcome']);
    this.renewalSeconds = this.registry.histogram('keylease_agent_renewal_duration_seconds', 'Time for a renewal to be answered, successful or not.', [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
    this.fences = this.registry.counter('keylease_agent_fences_total', 'Times the agent took its keys away before its lease could lapse, by cause.', ['cause']);
  }

  /** The gauges read the loop's state at scrape time. */
  describe(view: { readonly currentPhase: AgentPhase; readonly keysHeld: number; readonly msToFence: number | null; readonly leaseId: string | null }): void {
    this.registry.gauge('keylease_agent_phase', '1 for the phase the agent is in (claiming, holding, fenced, stopped, failed), 0 for the others.', () =>
      PHASES.map((phase) => [{ phase }, phase === view.currentPhase ? 1 : 0] as const),
    );
    this.registry.gauge('keylease_agent_keys_held', 'Keys this pod holds under a live lease.', () => [[{}, view.keysHeld]]);
    this.registry.gauge(
      'keylease_agent_fence_deadline_seconds',
      'Seconds until the agent fences unless a renewal is confirmed, by lease; absent without a lease. Small values mean renewals are late.',
      () => {
        const ms = view.msToFence;
        return ms !== null && view.leaseId !== null ? [[{ lease: view.leaseId }, Math.max(0, ms) / 1000]] : [];
      },
    );
  }
  onClaim(outcome: 'granted' | 'refused' | 'failed'): void {
    this.claims.inc({ outcome });
  }

  onRenewal(outcome: 'ok' | 'failed', seconds: number): void {
    this.renewals.inc({ outcome });
    this.renewalSeconds.observe(seconds);
  }

  onFence(cause: FenceCause): void {
    this.fences.inc({ cause });
  }
}
