import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkFaultRun } from '../faults/check.js';
import { runFaults } from '../faults/fault-run.js';
import { tempDir } from '../support/temp-dir.js';

// A short run; `npm run test:faults -- --minutes M --seed S` runs longer ones.
const SEED = Number(process.env['KEYLEASE_FAULT_SEED'] ?? 7);

test(`process-level faults (seed ${SEED}): kills, pauses and partitions leave a linearizable history and converged replicas`, async () => {
  const dir = await tempDir('faults');
  try {
    const run = await runFaults({ dir: dir.path, seed: SEED, durationMs: 20_000, clients: 3, podsPerClient: 3, log: (line) => console.log(line) });
    const verdict = await checkFaultRun(run);
    console.log(verdict.summary);
    assert.ok(verdict.ok, verdict.summary);
    // At least a few faults and some progress, however slow the machine (each fault waits for restarts).
    assert.ok(run.faults.length >= 3, `faults were injected (${run.faults.length})`);
    assert.ok(run.history.filter((op) => op.return !== null && op.output?.ok).length > 20, 'clients made progress through the faults');
  } finally {
    await dir.cleanup();
  }
});

test.run();
