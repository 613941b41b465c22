import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { status } from '@grpc/grpc-js';
import type { CoordinatorClient } from '../../agent/coordinator-client.js';
import { fetchAssignments } from '../support/coordinator-fixture.js';
import { startInProcessCoordinator, type InProcessCoordinator } from '../support/in-process-coordinator.js';
import { callRefusal } from '../support/call-refusal.js';
import { claimAsSigner } from '../support/proven-release.js';

const POOL_MAX_KEYS = 3;

let fixture: InProcessCoordinator;
let client: CoordinatorClient;
let httpBase: string;

test.before(async () => {
  fixture = await startInProcessCoordinator('claim-beyond-pool', ['--pool-max-keys', String(POOL_MAX_KEYS), '--max-keys-per-claim', '10'], { withMnemonic: true });
  ({ client, httpBase } = fixture);
});

test.after(() => fixture.close());

const derivedSoFar = async () => {
  const metrics = await (await fetch(`${httpBase}/metrics`)).text();
  return Number(/^keylease_key_derivations_total\{pool="default"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
};

test('a claim beyond what the pool may ever hold is refused before any key is derived', async () => {
  const error = await callRefusal(claimAsSigner(client, 'pod-big', POOL_MAX_KEYS + 2, 30_000));
  assert.is(error.status, status.RESOURCE_EXHAUSTED);
  assert.is(error.refusalCode, 'POOL_EXHAUSTED');
  assert.match(error.message, /at its maximum of 3 keys/);
  assert.is(await derivedSoFar(), 0, 'no key was derived');
  const assignments = await fetchAssignments(httpBase);
  assert.equal(assignments.pools['default'], { unallocated: 0, allocated: 0, cooling: 0, quarantined: 0 });
});

test('a claim the pool can serve by deriving up to its maximum derives exactly what it needs', async () => {
  const lease = await claimAsSigner(client, 'pod-small', 2, 30_000);
  assert.is(lease.keys.length, 2);
  assert.is(await derivedSoFar(), 2);
  // One key of room is left: asking for two more derives nothing.
  const error = await callRefusal(claimAsSigner(client, 'pod-other', 2, 30_000));
  assert.is(error.refusalCode, 'POOL_EXHAUSTED');
  assert.is(await derivedSoFar(), 2, 'the refused claim derived nothing');
});

test.run();
