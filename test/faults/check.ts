import { allocationModel, checkNoSharedKeys } from '../support/allocation-model.js';
import { checkLinearizable } from '../support/linearizability.js';
import type { FaultRunResult } from './fault-run.js';

export interface FaultVerdict {
  readonly ok: boolean;
  readonly summary: string;
}

/** The outside view of a fault run: converged replicas, a linearizable history, no key in two pods. */
export async function checkFaultRun(run: FaultRunResult): Promise<FaultVerdict> {
  const problems: string[] = [];
  const hashes = new Set(run.finalStatuses.map((s) => (s as { stateHash?: string }).stateHash));
  if (hashes.size !== 1) problems.push(`replicas hold different states: ${[...hashes].join(', ')}`);
  const linearizable = checkLinearizable(allocationModel, run.history, { timeoutMs: 30_000 });
  if (linearizable.result !== 'ok') problems.push(`history is ${linearizable.result}: ${linearizable.info ?? ''}`);
  const shared = checkNoSharedKeys(run.history);
  for (const { pubKey, holdings } of shared) problems.push(`key ${pubKey} held by ${holdings[0].podName} and ${holdings[1].podName} at once`);
  const answered = run.history.filter((op) => op.return !== null);
  const granted = answered.filter((op) => op.input.kind === 'claim' && op.output !== null && op.output.ok).length;
  const released = answered.filter((op) => op.input.kind === 'release' && op.output !== null && op.output.ok).length;
  const summary = [
    `${run.history.length} operations (${granted} claims granted, ${released} releases, ${run.history.length - answered.length} without an answer), ${run.faults.length} faults`,
    `final applied index ${run.finalStatuses[0]?.applied ?? '?'} on every replica; linearizability: ${linearizable.result}; keys in two pods: ${shared.length}`,
    ...problems.map((p) => `PROBLEM: ${p}`),
  ].join('\n');
  return { ok: problems.length === 0, summary };
}
