/**
 * The deterministic simulation over many seeds: each seed picks 3 or 5 replicas and a fault intensity,
 * runs faults and client load, heals, and checks safety on every step and liveness at the end.
 * SIM_SEEDS=N overrides the number of seeds (default 2400). A failure prints its replay command.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { optionsForSeed, runSeed, SimFailure } from './cluster.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 2400);
const GROUPS = 6;

for (let group = 0; group < GROUPS; group++) {
  const first = 1 + Math.floor((group * SEEDS) / GROUPS);
  const last = Math.floor(((group + 1) * SEEDS) / GROUPS);
  test(`seeds ${first}..${last} (3 and 5 replicas, all intensities) keep every invariant and converge`, () => {
    const failures: string[] = [];
    for (let seed = first; seed <= last; seed++) {
      try {
        runSeed(optionsForSeed(seed));
      } catch (error) {
        if (!(error instanceof SimFailure)) throw error;
        failures.push(error.message);
      }
    }
    assert.ok(failures.length === 0, `${failures.length} seeds failed:\n${failures.slice(0, 5).join('\n')}`);
  });
}

test.run();
