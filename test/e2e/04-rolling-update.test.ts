/**
 * A rolling update of a signing validator StatefulSet (3 pods, 2 keys each): every old pod hands its
 * keys back through its preStop hook, every new pod claims, and across the whole update no key signs
 * the same slot twice.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignments, ensureKeylease, VALIDATORS } from './support/deploy.js';
import { e2eCluster, waitUntil } from './support/kube.js';
import { exampleValidator, signedBlocks, validatorPods, type SignedBlock } from './support/validators.js';
import { podReady } from './support/kube.js';

const cluster = e2eCluster();
const { kubectl } = await ensureKeylease(cluster);
const NAME = 'lodestar-rolling';
const REPLICAS = 3;
const KEYS = 2;

const objects = exampleValidator(cluster, 'lodestar', NAME, KEYS);
const sts = objects.find((o) => o.kind === 'StatefulSet');
sts.spec.replicas = REPLICAS;
await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
await waitUntil(`${REPLICAS} ready pods of ${NAME}`, 300_000, async () => {
  const pods = await validatorPods(kubectl, NAME);
  return pods.length === REPLICAS && pods.every(podReady) ? true : undefined;
}, 1000);

test('a rolling update moves every key from the old pods to the new ones, and no slot is signed twice', async () => {
  const before = (await assignments(kubectl)).pods.filter((p) => p.podName.startsWith(`${VALIDATORS}/${NAME}-`));
  assert.is(before.length, REPLICAS);
  const oldUids = new Set((await validatorPods(kubectl, NAME)).map((p) => p.metadata.uid as string));
  await waitUntil('every old pod signing', 30_000, async () => {
    const signing = new Set(signedBlocks(cluster.dir, NAME).map((s) => s.uid));
    return [...oldUids].every((uid) => signing.has(uid)) ? true : undefined;
  });

  const started = performance.now();
  await kubectl.run(['-n', VALIDATORS, 'patch', 'statefulset', NAME, '--type=merge', '-p', JSON.stringify({ spec: { template: { metadata: { annotations: { 'e2e/rollout': String(Date.now()) } } } } })]);
  const after = await waitUntil('the rollout to finish', 600_000, async () => {
    const set = await kubectl.json(['-n', VALIDATORS, 'get', 'statefulset', NAME]);
    const pods = await validatorPods(kubectl, NAME);
    const done = set.status.updateRevision === set.status.currentRevision && set.status.updatedReplicas === REPLICAS &&
      pods.length === REPLICAS && pods.every((p) => podReady(p) && !oldUids.has(p.metadata.uid));
    if (!done) return undefined;
    const held = (await assignments(kubectl)).pods.filter((p) => p.podName.startsWith(`${VALIDATORS}/${NAME}-`));
    return held.length === REPLICAS && held.every((h) => !before.some((b) => b.leaseId === h.leaseId)) ? held : undefined;
  }, 1000);
  process.stdout.write(`measured: rolling update of ${REPLICAS} validator pods (${KEYS} keys each) done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  // Every old lease ended by release (keys neither cooling nor quarantined), every new pod holds its keys.
  const now = await assignments(kubectl);
  const oldKeys = before.flatMap((b) => b.pubKeys);
  assert.equal([...now.cooling, ...now.quarantined].filter((k) => oldKeys.includes(k.pubKey)), []);
  assert.ok(after.every((h) => h.pubKeys.length === KEYS));
  const newUids = new Set((await validatorPods(kubectl, NAME)).map((p) => p.metadata.uid as string));
  await waitUntil('every new pod signing', 60_000, async () => {
    const signing = new Set(signedBlocks(cluster.dir, NAME).map((s) => s.uid));
    return [...newUids].every((uid) => signing.has(uid)) ? true : undefined;
  });
  const blocks = signedBlocks(cluster.dir, NAME);
  assert.equal(doubleSigned(blocks), [], 'no key signed a slot twice');
  // The keys kept signing across the update: each old key signed again after its old pod stopped.
  const newSigners = new Set(blocks.filter((b) => newUids.has(b.uid)).map((b) => b.pubKey));
  const heldAfter = after.flatMap((h) => h.pubKeys);
  assert.ok(heldAfter.every((k) => newSigners.has(k)), 'every key the new pods hold signs from them');
});

function doubleSigned(blocks: readonly SignedBlock[]): string[] {
  const seen = new Map<string, string>();
  const twice: string[] = [];
  for (const b of blocks) {
    const id = `${b.pubKey}@${b.slot}`;
    if (seen.has(id)) twice.push(`${id} by ${seen.get(id)} and ${b.pod}/${b.uid}`);
    seen.set(id, `${b.pod}/${b.uid}`);
  }
  return twice;
}

test.run();
