import { optionsForSeed, runSeed, SimFailure, type FailureKind, type SimOptions } from './cluster.js';

/** What the simulation options a run may override (the seed decides the rest); plain data, so it crosses to a worker. */
export type SeedOverrides = Partial<Pick<SimOptions, 'replicas' | 'intensity' | 'linearizabilityMaxSteps'>>;

/** One seed's result, as plain data a worker process can send back. */
export interface SeedOutcome {
  readonly seed: number;
  readonly steps: number;
  /** Time the linearizability check took (0 when the seed failed before it). */
  readonly checkMs: number;
  readonly checkSteps: number;
  readonly operations: number;
  /** Absent when the seed passed. */
  readonly failure?: { readonly kind: FailureKind; readonly message: string };
}

/** Runs one seed; a failure of the seed is an outcome, anything else (a bug in the harness) throws. */
export function runSeedOutcome(seed: number, overrides: SeedOverrides): SeedOutcome {
  try {
    const report = runSeed(optionsForSeed(seed, overrides));
    return { seed, steps: report.steps, checkMs: report.linearizabilityMs, checkSteps: report.linearizabilitySteps, operations: report.operations };
  } catch (error) {
    if (!(error instanceof SimFailure)) throw error;
    return { seed, steps: 0, checkMs: 0, checkSteps: 0, operations: 0, failure: { kind: error.kind, message: error.message } };
  }
}
