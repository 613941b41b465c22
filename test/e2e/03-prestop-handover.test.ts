/**
 * `kubectl delete pod` on a signing validator pod: the kubelet calls the injected preStop hook, the
 * agent hands its keys back with their slashing protection before the client gets SIGTERM, so the keys
 * are free at once (neither cooling nor quarantined), and the pod the StatefulSet makes next signs on
 * from above the old pod's last slots.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignments, ensureKeylease, poolWatermarks, VALIDATORS } from './support/deploy.js';
import { e2eCluster, waitUntil } from './support/kube.js';
import { exampleValidator, signedBlocks, waitForReadyPod } from './support/validators.js';

const cluster = e2eCluster();
const deployment = await ensureKeylease(cluster);
const { kubectl } = deployment;
const NAME = 'lodestar-handover';
const POD = `${NAME}-0`;
const KEYS = 3;

await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: exampleValidator(cluster, 'lodestar', NAME, KEYS) }));
const first = await waitForReadyPod(kubectl, POD);

test('kubectl delete pod: the preStop hook hands the keys back at once, with their slashing protection', async () => {
  const held = await waitUntil('the pod holding its keys', 30_000, async () => (await assignments(kubectl)).pods.find((p) => p.podName.endsWith(POD)));
  const keys = held.pubKeys;
  await waitUntil('the client signing with every key', 30_000, async () => {
    const signers = new Set(signedBlocks(cluster.dir, NAME).filter((s) => s.uid === first.metadata.uid).map((s) => s.pubKey));
    return keys.every((k) => signers.has(k)) ? true : undefined;
  });

  const deleted = performance.now();
  await kubectl.run(['-n', VALIDATORS, 'delete', 'pod', POD, '--wait=false']);
  // Free: no longer under the old lease, and not held back (cooling or quarantine).
  const freed = await waitUntil('the keys back in the pool', 60_000, async () => {
    const now = await assignments(kubectl);
    const stillHeld = now.pods.some((p) => p.leaseId === held.leaseId);
    const heldBack = [...now.cooling, ...now.quarantined].filter((k) => keys.includes(k.pubKey));
    if (heldBack.length) throw new Error(`held back: ${JSON.stringify(heldBack)}`);
    return stillHeld ? undefined : performance.now();
  }, 100);
  process.stdout.write(`measured: handover on kubectl delete pod: keys free ${((freed - deleted) / 1000).toFixed(2)} s after the delete (preStop hook, release with slashing protection)\n`);

  const lastSigned = new Map<string, number>();
  for (const s of signedBlocks(cluster.dir, NAME)) if (s.uid === first.metadata.uid) lastSigned.set(s.pubKey, Math.max(lastSigned.get(s.pubKey) ?? 0, s.slot));
  for (const key of keys) {
    const marks = await poolWatermarks(deployment, key);
    assert.ok(marks.maxBlockSlot !== null && marks.maxBlockSlot >= BigInt(lastSigned.get(key)!), `the pool's block watermark of ${key.slice(0, 12)}… (${marks.maxBlockSlot}) covers the old pod's last signed slot ${lastSigned.get(key)}`);
  }

  const replacement = await waitForReadyPod(kubectl, POD, 120_000, first.metadata.uid);
  process.stdout.write(`measured: replacement pod ready ${((performance.now() - deleted) / 1000).toFixed(1)} s after the delete\n`);
  const after = await waitUntil('the replacement signing', 30_000, async () => (await assignments(kubectl)).pods.find((p) => p.podName.endsWith(POD) && p.leaseId !== held.leaseId));
  assert.is(after.pubKeys.length, KEYS);
  // Whatever keys it got, no (key, slot) was signed by both pods.
  await waitUntil('a signature from the replacement', 30_000, async () => (signedBlocks(cluster.dir, NAME).some((s) => s.uid === replacement.metadata.uid) ? true : undefined));
  assert.equal(doubleSigned(signedBlocks(cluster.dir, NAME)), []);
});

function doubleSigned(blocks: ReturnType<typeof signedBlocks>): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const b of blocks) {
    const id = `${b.pubKey}@${b.slot}`;
    if (seen.has(id)) twice.push(id);
    seen.add(id);
  }
  return twice;
}

test.run();
