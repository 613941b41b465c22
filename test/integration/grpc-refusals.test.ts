import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { status } from '@grpc/grpc-js';
import type { CoordinatorClient } from '../../agent/coordinator-client.js';
import { fetchAssignments } from '../support/coordinator-fixture.js';
import { startInProcessCoordinator, type InProcessCoordinator } from '../support/in-process-coordinator.js';
import { callRefusal } from '../support/call-refusal.js';

let fixture: InProcessCoordinator;
let client: CoordinatorClient;
let httpBase: string;

test.before(async () => {
  // No mnemonic: the pool serves only what it has, so exhaustion is reachable.
  fixture = await startInProcessCoordinator('grpc', ['--max-keys-per-claim', '4'], { withMnemonic: false });
  ({ client, httpBase } = fixture);
});

test.after(() => fixture.close());

test('a malformed pod name is INVALID_ARGUMENT, naming the rule', async () => {
  const error = await callRefusal(client.claim('Bad_Pod', 'default', 1, 2000));
  assert.is(error.status, status.INVALID_ARGUMENT);
  assert.match(error.message, /DNS-1123/);
});

test('a count outside 1..max is INVALID_ARGUMENT, naming the range', async () => {
  for (const count of [0, 5]) {
    const error = await callRefusal(client.claim('pod-a', 'default', count, 2000));
    assert.is(error.status, status.INVALID_ARGUMENT);
    assert.match(error.message, /1\.\.4/);
  }
});

test('an unknown pool is NOT_FOUND, listing the known ones', async () => {
  const error = await callRefusal(client.claim('pod-a', 'nope', 1, 2000));
  assert.is(error.status, status.NOT_FOUND);
  assert.match(error.message, /known pools are default/);
});

test('a pool that cannot serve is RESOURCE_EXHAUSTED, saying why', async () => {
  const error = await callRefusal(client.claim('pod-a', 'default', 2, 2000));
  assert.is(error.status, status.RESOURCE_EXHAUSTED);
  assert.is(error.refusalCode, 'POOL_EXHAUSTED');
  assert.match(error.message, /import keys or turn derivation on/);
});

test('renewing or releasing an unknown lease is NOT_FOUND', async () => {
  const renew = await callRefusal(client.renew('pod-a', 'lease-404', 2000));
  assert.is(renew.status, status.NOT_FOUND);
  assert.is(renew.refusalCode, 'LEASE_NOT_FOUND');
  const release = await callRefusal(client.release('pod-a', 'lease-404', 2000));
  assert.is(release.status, status.NOT_FOUND);
});

test('refusals change nothing and are counted in the metrics', async () => {
  const assignments = await fetchAssignments(httpBase);
  assert.equal(assignments.pods, []);
  assert.equal(assignments.pools['default'], { unallocated: 0, allocated: 0, cooling: 0, quarantined: 0 });
  const metrics = await (await fetch(`${httpBase}/metrics`)).text();
  assert.match(metrics, /keylease_refusals_total\{operation="claim",code="INVALID_ARGUMENT"\} 3/);
  assert.match(metrics, /keylease_refusals_total\{operation="claim",code="POOL_EXHAUSTED"\} 1/);
  assert.match(metrics, /keylease_keys\{pool="default",state="unallocated"\} 0/);
});

test.run();
