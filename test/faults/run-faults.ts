/**
 * Longer process-level fault runs than `npm test` does: npm run test:faults -- [--minutes M] [--seed S]
 * Each run ends healed; the replicas must converge, and the client history must be linearizable with
 * no key held by two pods at once.
 */
import { checkFaultRun } from './check.js';
import { runFaults } from './fault-run.js';
import { tempDir } from '../support/temp-dir.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1]!;
};
const minutes = Number(option('minutes', '2'));
const seed = Number(option('seed', String(Date.now() % 100_000)));

const dir = await tempDir('faults');
try {
  console.log(`fault run: seed ${seed}, ${minutes} min (replay: npm run test:faults -- --seed ${seed} --minutes ${minutes})`);
  const run = await runFaults({ dir: dir.path, seed, durationMs: minutes * 60_000, clients: 4, podsPerClient: 4, log: (line) => console.log(line) });
  const verdict = await checkFaultRun(run);
  console.log(verdict.summary);
  process.exitCode = verdict.ok ? 0 : 1;
} finally {
  await dir.cleanup();
}
