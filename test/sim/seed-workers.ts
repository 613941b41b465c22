/**
 * Runs seeds in forked worker processes, a small batch at a time, so that a slow seed or a core
 * taken by other work leaves no worker idle while seeds remain. Seeds are deterministic, so where
 * one runs does not change its outcome.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SeedOutcome, SeedOverrides } from './seed-outcome.js';

export interface BatchRequest {
  readonly seeds: readonly number[];
  readonly overrides: SeedOverrides;
}

export interface BatchResult {
  readonly outcomes: readonly SeedOutcome[];
}

/** Small enough to balance the workers' load, large enough that messages cost nothing beside the seeds. */
const SEEDS_PER_BATCH = 20;
const WORKER_ENTRY = fileURLToPath(new URL('./seed-worker.ts', import.meta.url));

export async function runSeedsInWorkers(
  seeds: readonly number[],
  overrides: SeedOverrides,
  workers: number,
  onOutcome: (outcome: SeedOutcome) => void,
): Promise<void> {
  let next = 0;
  const nextBatch = (): number[] => seeds.slice(next, (next += SEEDS_PER_BATCH));
  const runWorker = (child: ChildProcess) =>
    new Promise<void>((resolve, reject) => {
      let pending: number[] = [];
      const send = () => {
        pending = nextBatch();
        if (pending.length === 0) {
          child.disconnect();
          return;
        }
        const request: BatchRequest = { seeds: pending, overrides };
        child.send(request);
      };
      child.on('message', ({ outcomes }: BatchResult) => {
        outcomes.forEach(onOutcome);
        send();
      });
      child.on('exit', (code, signal) => {
        if (pending.length === 0) return resolve();
        next = seeds.length; // the other workers finish their batch and stop
        reject(new Error(`a simulation worker exited (${signal ?? `code ${code}`}) while running seeds ${pending[0]}..${pending.at(-1)}; rerun those seeds with --workers 1 to see why`));
      });
      send();
    });
  // The workers inherit this process's execArgv, hence tsx's loader.
  await Promise.all(Array.from({ length: workers }, () => runWorker(fork(WORKER_ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))));
}
