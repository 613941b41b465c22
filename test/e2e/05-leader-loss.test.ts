/**
 * Deleting the coordinators' leader pod: it hands leadership over on SIGTERM, another replica leads, and
 * a signing agent renews its lease with the new leader without ever fencing: same lease, keys kept,
 * signing on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignments, coordinatorPods, ensureKeylease, leaderHttp, NAMESPACE, VALIDATORS } from './support/deploy.js';
import { e2eCluster, podReady, waitUntil } from './support/kube.js';
import { exampleValidator, signedBlocks, waitForReadyPod } from './support/validators.js';

const cluster = e2eCluster();
const { kubectl } = await ensureKeylease(cluster);
const NAME = 'lodestar-follow';
const POD = `${NAME}-0`;
const KEYS = 2;

await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: exampleValidator(cluster, 'lodestar', NAME, KEYS) }));
const pod = await waitForReadyPod(kubectl, POD);

test('the leader pod deleted: a new leader within seconds, the agent renews with it and never fences', async () => {
  const held = await waitUntil('the pod holding its keys', 30_000, async () => (await assignments(kubectl)).pods.find((p) => p.podName.endsWith(POD)));
  const old = await leaderHttp(kubectl);
  const deleted = performance.now();
  const deletedAtMs = Date.now();
  await kubectl.run(['-n', NAMESPACE, 'delete', 'pod', old.podName, '--wait=false']);

  const newLeader = await waitUntil('another replica leading', 60_000, async () => {
    const leader = await leaderHttp(kubectl).catch(() => undefined);
    return leader && leader.podName !== old.podName ? leader : undefined;
  }, 100);
  const electedAfter = (performance.now() - deleted) / 1000;
  // The lease outlives the hand-over: the agent renewed it with the new leader (its expiry moved on).
  const renewed = await waitUntil('the lease renewed at the new leader', 60_000, async () => {
    const response = await fetch(`${newLeader.base}/assignments`, { headers: { accept: 'application/json' } });
    const doc = (await response.json()) as { pods: Array<{ leaseId: string; leaseExpiresAtMs: number | null }> };
    const lease = doc.pods.find((p) => p.leaseId === held.leaseId);
    if (!lease) throw new Error(`lease ${held.leaseId} is gone at the new leader`);
    return lease.leaseExpiresAtMs !== null && lease.leaseExpiresAtMs > deletedAtMs + 30_000 ? lease : undefined;
  }, 250);
  process.stdout.write(`measured: recovery after leader loss: new leader ${electedAfter.toFixed(2)} s after the delete, agent's lease renewed with it ${((performance.now() - deleted) / 1000).toFixed(2)} s after\n`);
  assert.ok(renewed);

  const log = await kubectl.run(['-n', VALIDATORS, 'logs', POD, '-c', 'keylease-agent']);
  assert.not.match(log, /fenced: keys removed/, 'the agent never fenced');
  const after = (await assignments(kubectl)).pods.find((p) => p.podName.endsWith(POD))!;
  assert.is(after.leaseId, held.leaseId, 'same lease');
  assert.equal([...after.pubKeys].sort(), [...held.pubKeys].sort());
  // Signing went on through the hand-over: every key signed a slot after the new leader took over.
  const sinceSlot = Math.floor(Date.now() / 250);
  await waitUntil('every key signing after the hand-over', 30_000, async () => {
    const late = new Set(signedBlocks(cluster.dir, NAME).filter((b) => b.uid === pod.metadata.uid && b.slot > sinceSlot).map((b) => b.pubKey));
    return held.pubKeys.every((k) => late.has(k)) ? true : undefined;
  });
  // Leave three ready replicas for the files after this one.
  await waitUntil('three ready coordinators again', 180_000, async () => ((await coordinatorPods(kubectl)).filter(podReady).length === 3 ? true : undefined), 1000);
});

test.run();
