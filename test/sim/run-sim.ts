/**
 * Runs the deterministic cluster simulation from the command line; exits non-zero if any seed fails,
 * a seed whose client history the linearizability checker left undecided included.
 *   npx tsx test/sim/run-sim.ts                        seeds 1..10000 (size and intensity follow the seed)
 *   npx tsx test/sim/run-sim.ts --seed 1234 --trace    replays one seed exactly, printing its events
 *   --seeds N (how many), --first N (start of the range), --replicas 3|5 and --intensity 0|1|2 override
 *   what the seed picks; --lin-steps N: budget of each seed's linearizability check in search steps (default 1000000);
 *   --workers N: worker processes (default: 2, or 1 on a single core).
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { optionsForSeed, runSeed, type Intensity } from './cluster.js';
import { runSeedOutcome, type SeedOutcome, type SeedOverrides } from './seed-outcome.js';
import { runSeedsInWorkers } from './seed-workers.js';

const DEFAULT_SEEDS = 10_000;
/** Failures printed in full; the rest are listed by seed. */
const FAILURES_SHOWN = 10;
const PROGRESS_EVERY = 1000;

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    seed: { type: 'string' },
    first: { type: 'string' },
    replicas: { type: 'string' },
    intensity: { type: 'string' },
    trace: { type: 'boolean' },
    'lin-steps': { type: 'string' },
    workers: { type: 'string' },
  },
});

const overrides: { -readonly [K in keyof SeedOverrides]: SeedOverrides[K] } = {};
if (values.replicas !== undefined) {
  if (values.replicas !== '3' && values.replicas !== '5') throw new Error('--replicas must be 3 or 5');
  overrides.replicas = Number(values.replicas) as 3 | 5;
}
if (values.intensity !== undefined) {
  if (!['0', '1', '2'].includes(values.intensity)) throw new Error('--intensity must be 0, 1 or 2');
  overrides.intensity = Number(values.intensity) as Intensity;
}
if (values['lin-steps'] !== undefined) overrides.linearizabilityMaxSteps = positiveInteger('--lin-steps', values['lin-steps']);
const workers = values.workers !== undefined ? positiveInteger('--workers', values.workers) : Math.min(2, availableParallelism());

if (values.seed !== undefined) {
  replayOne(positiveInteger('--seed', values.seed));
} else {
  await runMany(rangeOf(positiveInteger('--first', values.first ?? '1'), positiveInteger('--seeds', values.seeds ?? String(DEFAULT_SEEDS))));
}

/** One seed in this process, with its whole report (and its trace, if asked). */
function replayOne(seed: number): void {
  const trace = values.trace ? (line: string) => process.stdout.write(line + '\n') : undefined;
  try {
    process.stdout.write(JSON.stringify(runSeed(optionsForSeed(seed, { ...overrides, ...(trace ? { trace } : {}) }))) + '\n');
    process.stdout.write(`seed ${seed} passed\n`);
  } catch (error) {
    process.stdout.write(`${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof Error && error.cause instanceof Error) process.stdout.write(`${error.cause.stack}\n`);
    process.exitCode = 1;
  }
}

async function runMany(seeds: number[]): Promise<void> {
  if (values.trace) throw new Error('--trace replays one seed: give it with --seed N');
  const started = performance.now();
  const failures: SeedOutcome[] = [];
  let done = 0;
  let steps = 0;
  let checkMs = 0;
  let slowestCheck = { ms: 0, seed: 0 };
  let longestSearch = { steps: 0, seed: 0 };
  const record = (outcome: SeedOutcome) => {
    done++;
    steps += outcome.steps;
    checkMs += outcome.checkMs;
    if (outcome.checkMs > slowestCheck.ms) slowestCheck = { ms: outcome.checkMs, seed: outcome.seed };
    if (outcome.checkSteps > longestSearch.steps) longestSearch = { steps: outcome.checkSteps, seed: outcome.seed };
    if (outcome.failure !== undefined) {
      failures.push(outcome);
      if (failures.length <= FAILURES_SHOWN) process.stdout.write(`${outcome.failure.message}\n`);
    }
    if (done % PROGRESS_EVERY === 0) process.stdout.write(`  ${done}/${seeds.length} seeds, ${failures.length} failed, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  };
  process.stdout.write(`running seeds ${seeds[0]}..${seeds.at(-1)} in ${workers} worker${workers > 1 ? 's' : ''}\n`);
  if (workers === 1) seeds.forEach((seed) => record(runSeedOutcome(seed, overrides)));
  else await runSeedsInWorkers(seeds, overrides, workers, record);

  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${done - failures.length}/${done} seeds passed in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(1)} seeds/s, ${Math.round(steps / seconds)} steps/s, ${workers} workers)\n` +
      `linearizability check: ${(checkMs / 1000).toFixed(1)} s in all; at most ${slowestCheck.ms.toFixed(0)} ms (seed ${slowestCheck.seed}) ` +
      `and ${longestSearch.steps} search steps (seed ${longestSearch.seed})\n`,
  );
  const undecided = failures.filter((f) => f.failure?.kind === 'linearizability undecided').map((f) => f.seed);
  if (undecided.length > 0) {
    process.stdout.write(
      `FAILED: the linearizability checker left ${undecided.length} seeds undecided: ${undecided.sort((a, b) => a - b).join(', ')}\n` +
        `  rerun one with a longer budget: npx tsx test/sim/run-sim.ts --seed ${undecided[0]} --lin-steps 100000000\n`,
    );
  }
  const others = failures.filter((f) => f.failure?.kind !== 'linearizability undecided').map((f) => f.seed);
  if (others.length > 0) {
    process.stdout.write(`FAILED: ${others.length} seeds: ${others.sort((a, b) => a - b).join(', ')}\n  replay one: npx tsx test/sim/run-sim.ts --seed ${others[0]} --trace\n`);
  }
  process.exitCode = failures.length > 0 ? 1 : 0;
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer, not ${JSON.stringify(text)}`);
  return value;
}

function rangeOf(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}
