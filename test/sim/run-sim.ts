/**
 * Runs the deterministic cluster simulation from the command line.
 *   npx tsx test/sim/run-sim.ts --seeds 500            seeds 1..500 (size and intensity follow the seed)
 *   npx tsx test/sim/run-sim.ts --seed 1234 --trace    replays one seed exactly, printing its events
 *   --first N (start of the range), --replicas 3|5 and --intensity 0|1|2 override what the seed picks.
 *   --lin-timeout MS: budget of each seed's linearizability check (default 2000).
 */
import { parseArgs } from 'node:util';
import { optionsForSeed, runSeed, type Intensity, type SimOptions } from './cluster.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    seed: { type: 'string' },
    first: { type: 'string' },
    replicas: { type: 'string' },
    intensity: { type: 'string' },
    trace: { type: 'boolean' },
    'lin-timeout': { type: 'string' },
  },
});

const overrides: { -readonly [K in keyof SimOptions]?: SimOptions[K] } = {};
if (values.replicas !== undefined) {
  if (values.replicas !== '3' && values.replicas !== '5') throw new Error('--replicas must be 3 or 5');
  overrides.replicas = Number(values.replicas) as 3 | 5;
}
if (values.intensity !== undefined) {
  if (!['0', '1', '2'].includes(values.intensity)) throw new Error('--intensity must be 0, 1 or 2');
  overrides.intensity = Number(values.intensity) as Intensity;
}
if (values['lin-timeout'] !== undefined) overrides.linearizabilityTimeoutMs = Number(values['lin-timeout']);
if (values.trace) overrides.trace = (line: string) => process.stdout.write(line + '\n');

const seeds = values.seed !== undefined ? [Number(values.seed)] : rangeOf(Number(values.first ?? 1), Number(values.seeds ?? 200));
const started = performance.now();
let failed = 0;
let steps = 0;
let checkMs = 0;
const undecided: number[] = [];
for (const seed of seeds) {
  try {
    const report = runSeed(optionsForSeed(seed, overrides));
    steps += report.steps;
    checkMs += report.linearizabilityMs;
    if (report.linearizability === 'unknown') undecided.push(seed);
    if (seeds.length === 1) process.stdout.write(JSON.stringify(report) + '\n');
  } catch (error) {
    failed++;
    process.stdout.write(`${error instanceof Error ? error.message : String(error)}\n`);
    if (seeds.length === 1 && error instanceof Error && error.cause instanceof Error) process.stdout.write(`${error.cause.stack}\n`);
  }
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${seeds.length - failed}/${seeds.length} seeds passed in ${seconds.toFixed(1)} s (${(seeds.length / seconds).toFixed(1)} seeds/s, ${Math.round(steps / seconds)} steps/s)\n`);
process.stdout.write(
  `linearizability check: ${(checkMs / 1000).toFixed(1)} s in all; undecided in ${undecided.length} seeds${undecided.length > 0 ? ` (${undecided.slice(0, 20).join(', ')})` : ''}\n`,
);
process.exitCode = failed > 0 ? 1 : 0;

function rangeOf(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}
