/**
 * A worker process of `run-sim.ts` (forked by `seed-workers.ts`): runs each batch of seeds it is sent
 * and sends their outcomes back, which also asks for the next batch.
 */
import { runSeedOutcome } from './seed-outcome.js';
import type { BatchRequest, BatchResult } from './seed-workers.js';

process.on('message', ({ seeds, overrides }: BatchRequest) => {
  const result: BatchResult = { outcomes: seeds.map((seed) => runSeedOutcome(seed, overrides)) };
  process.send!(result);
});
