/**
 * The deterministic simulation over many seeds: each seed picks 3 or 5 replicas and a fault intensity,
 * runs faults and client load, heals, and checks safety on every step, liveness at the end, and the
 * linearizability of the client history. SIM_SEEDS=N overrides the number of seeds (default 2400). A
 * failure prints its replay command. A history the checker leaves undecided fails its seed: nobody
 * checked it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSeedOutcome } from './seed-outcome.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 2400);
const GROUPS = 6;

const totals = { seeds: 0, operations: 0, checkMs: 0, maxCheckMs: 0 };

for (let group = 0; group < GROUPS; group++) {
  const first = 1 + Math.floor((group * SEEDS) / GROUPS);
  const last = Math.floor(((group + 1) * SEEDS) / GROUPS);
  test(`seeds ${first}..${last} (3 and 5 replicas, all intensities) keep every invariant, converge and give client histories the checker decides are linearizable`, () => {
    const failures: string[] = [];
    for (let seed = first; seed <= last; seed++) {
      const outcome = runSeedOutcome(seed, {});
      totals.seeds++;
      totals.operations += outcome.operations;
      totals.checkMs += outcome.checkMs;
      totals.maxCheckMs = Math.max(totals.maxCheckMs, outcome.checkMs);
      if (outcome.failure !== undefined) failures.push(outcome.failure.message);
    }
    assert.ok(failures.length === 0, `${failures.length} seeds failed:\n${failures.slice(0, 5).join('\n')}`);
  });
}

test.after(() => {
  const { seeds, operations, checkMs, maxCheckMs } = totals;
  process.stdout.write(
    `\nclient histories: ${operations} operations in ${seeds} seeds; linearizability checked in ${(checkMs / 1000).toFixed(1)} s (at most ${maxCheckMs.toFixed(0)} ms a seed)\n`,
  );
});

test.run();
