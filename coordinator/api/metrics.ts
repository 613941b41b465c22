import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { depositCountsByPool, keyCountsByPool, type PodRef, type ReadonlyCoreState } from '../core/index.js';
import type { AllocationObserver } from '../allocation/allocation-service.js';
import type { DerivationObserver } from '../keys/derivation-pool.js';
import { registerRaftMetrics, type RaftStatusView } from './raft-metrics.js';

export type Operation = 'claim' | 'renew' | 'release' | 'report_removed';

/** Prometheus metrics of one coordinator. Gauges are computed from the replicated state at scrape time. */
export class CoordinatorMetrics implements AllocationObserver {
  readonly registry = new Registry();
  private readonly claims: Counter<'pool'>;
  private readonly repeatedClaims: Counter<'pool'>;
  private readonly derived: Counter<'pool'>;
  private readonly releases: Counter<'pool'>;
  private readonly expiries: Counter<'pool'>;
  private readonly renewalsConfirmedByQuorum: Counter;
  private readonly refusals: Counter<'operation' | 'code'>;
  readonly requestSeconds: Histogram<'operation' | 'outcome'>;

  constructor(readState: () => Promise<ReadonlyCoreState | null>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'keylease_process_' });
    this.claims = new Counter({ name: 'keylease_claims_total', help: 'Claims that granted a new lease.', labelNames: ['pool'], registers });
    this.repeatedClaims = new Counter({ name: 'keylease_repeated_claims_total', help: 'Claims answered with the lease the pod already held.', labelNames: ['pool'], registers });
    this.derived = new Counter({ name: 'keylease_keys_derived_total', help: 'Keys derived from a pool mnemonic.', labelNames: ['pool'], registers });
    this.releases = new Counter({ name: 'keylease_releases_total', help: 'Leases released by their agent.', labelNames: ['pool'], registers });
    this.expiries = new Counter({ name: 'keylease_lease_expiries_total', help: 'Leases expired without renewal.', labelNames: ['pool'], registers });
    this.renewalsConfirmedByQuorum = new Counter({ name: 'keylease_renewals_quorum_confirmed_total', help: 'Renewals the leader answered only after a quorum round, its leader lease having lapsed (followers answering heartbeats late, a stalled leader, a transfer).', registers });
    this.refusals = new Counter({ name: 'keylease_refusals_total', help: 'Requests refused, by operation and refusal code.', labelNames: ['operation', 'code'], registers });
    this.requestSeconds = new Histogram({
      name: 'keylease_request_duration_seconds',
      help: 'Agent API request latency.',
      labelNames: ['operation', 'outcome'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (state: ReadonlyCoreState, gauge: Gauge<L>) => void) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          this.reset();
          const state = await readState();
          if (state) fill(state, this);
        },
      });
    gauge('keylease_keys', 'Keys by pool and state.', ['pool', 'state'], (state, g) => {
      for (const [pool, counts] of Object.entries(keyCountsByPool(state))) {
        for (const [keyState, count] of Object.entries(counts)) g.set({ pool, state: keyState }, count);
      }
    });
    gauge('keylease_cooling_keys_next_return_timestamp_seconds', 'When the next cooling key of each pool returns to it (Unix time); absent when none is cooling.', ['pool'], (state, g) => {
      const earliest = new Map<string, number>();
      for (const key of state.keys.values()) {
        if (key.state === 'cooling' && key.coolingUntilMs !== null) earliest.set(key.pool, Math.min(earliest.get(key.pool) ?? Infinity, key.coolingUntilMs));
      }
      for (const [pool, untilMs] of earliest) g.set({ pool }, untilMs / 1000);
    });
    gauge('keylease_deposits', 'Deposits of pools that make their own, by status: awaiting (key committed), signed (transaction committed and broadcast), confirmed.', ['pool', 'status'], (state, g) => {
      for (const [pool, counts] of Object.entries(depositCountsByPool(state))) {
        for (const [status, count] of Object.entries(counts)) g.set({ pool, status }, count);
      }
    });
    gauge('keylease_foreign_keys', 'Derived keys found in use on chain before the pool recorded them: not handed out until their slashing protection is imported or an operator confirms them.', ['pool'], (state, g) => {
      for (const pool of state.pools.keys()) g.set({ pool }, 0);
      for (const key of state.keys.values()) if (key.foreign) g.inc({ pool: key.pool });
    });
    gauge('keylease_pods_with_leases', 'Pods holding a lease, by pool.', ['pool'], (state, g) => {
      for (const pool of state.pools.keys()) g.set({ pool }, 0);
      for (const lease of state.leases.values()) g.inc({ pool: lease.pool });
    });
    gauge('keylease_orphaned_leases', 'Live leases whose pod is gone from the Kubernetes API (its containers may still run on a lost node).', ['pool'], (state, g) => {
      for (const pool of state.pools.keys()) g.set({ pool }, 0);
      for (const lease of state.leases.values()) if (this.isOrphaned(lease)) g.inc({ pool: lease.pool });
    });
  }

  private isOrphaned: (pod: PodRef) => boolean = () => false;

  /** This replica's view of the Raft group, on every replica (raft-metrics.ts). */
  reportRaft(status: () => RaftStatusView): void {
    registerRaftMetrics(this.registry, status);
  }

  /** With TLS on: when the certificate in use expires, so an alert fires if rotation stalls. */
  reportCertificateExpiry(certNotAfterMs: () => number | null): void {
    new Gauge({
      name: 'keylease_tls_certificate_expiration_timestamp_seconds',
      help: 'When the TLS certificate this replica serves expires (Unix time); it follows the files as they are rotated.',
      registers: [this.registry],
      collect() {
        const ms = certNotAfterMs();
        if (ms === null) this.reset();
        else this.set(ms / 1000);
      },
    });
  }

  /** Where orphans are known (the pod watch, with Kubernetes identity on). */
  countOrphans(isOrphaned: (pod: PodRef) => boolean): void {
    this.isOrphaned = isOrphaned;
  }

  /** Keys derived by this replica's workers as each one finishes, and the keys waiting: derivation's progress. */
  derivationObserver(pool: string): DerivationObserver {
    const registers = [this.registry];
    const derivations = new Counter({ name: 'keylease_key_derivations_total', help: 'Keys derived and sealed by this replica\'s worker threads, counted as each one finishes (before it is committed).', labelNames: ['pool'], registers });
    const backlog = new Gauge({ name: 'keylease_key_derivation_backlog_keys', help: 'Keys waiting for or in derivation on this replica.', labelNames: ['pool'], registers });
    derivations.inc({ pool }, 0);
    backlog.set({ pool }, 0);
    return { onKeyDerived: () => derivations.inc({ pool }), onBacklog: (keys) => backlog.set({ pool }, keys) };
  }

  /** CPU pressure as the load shedding sees it, and the background work it held back. */
  reportPressure(pressure: { readonly delayP99Ms: number; readonly underPressure: boolean; readonly shed: ReadonlyMap<string, number> }): void {
    const registers = [this.registry];
    new Gauge({ name: 'keylease_event_loop_delay_p99_seconds', help: 'p99 event loop delay over the last half second: how late this replica runs its work.', registers, collect() { this.set(pressure.delayP99Ms / 1000); } });
    new Gauge({ name: 'keylease_cpu_pressure', help: '1 while background work (derivation, deposits, pages) waits so renewals are answered first.', registers, collect() { this.set(pressure.underPressure ? 1 : 0); } });
    new Counter({
      name: 'keylease_shed_total',
      help: 'Times background work was held back under CPU pressure, by kind (derivation, deposits, quarantine, pages).',
      labelNames: ['work'],
      registers,
      collect() {
        this.reset();
        for (const [work, count] of pressure.shed) this.inc({ work }, count);
      },
    });
  }

  onClaim(pool: string, derived: number, existing: boolean): void {
    (existing ? this.repeatedClaims : this.claims).inc({ pool });
    if (derived > 0) this.derived.inc({ pool }, derived);
  }

  onRelease(pool: string): void {
    this.releases.inc({ pool });
  }

  onExpired(pool: string): void {
    this.expiries.inc({ pool });
  }

  onRenewalConfirmedByQuorum(): void {
    this.renewalsConfirmedByQuorum.inc();
  }

  onRefusal(operation: Operation, code: string): void {
    this.refusals.inc({ operation, code });
  }
}
