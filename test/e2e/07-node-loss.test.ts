/**
 * Node loss, simulated on the one node: the kubelet stopped (SIGSTOP: it neither reports nor acts) and
 * a files-mode validator pod frozen with it (cgroup freezer: its agent can neither renew nor prove the
 * keys left the client). The lease lapses and, removal unproven, the keys are quarantined, and stay
 * so while the pod exists; once the operator force-deletes the pod, they return to the pool.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignments, ensureKeylease, VALIDATORS } from './support/deploy.js';
import { e2eCluster, waitUntil } from './support/kube.js';
import { exampleValidator, waitForReadyPod } from './support/validators.js';

const cluster = e2eCluster();
const { kubectl } = await ensureKeylease(cluster);
const NAME = 'teku-nodeloss';
const POD = `${NAME}-0`;
const KEYS = 2;

await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: exampleValidator(cluster, 'teku-files', NAME, KEYS) }));
const pod = await waitForReadyPod(kubectl, POD);

function kubeletPid(): number {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('/kubelet') && args.includes(`--root-dir=${cluster.kubeletRootDir}`)) return Number(pid);
    } catch {
      // gone
    }
  }
  throw new Error('the node cluster\'s kubelet is not running');
}

function freezePod(state: 'FROZEN' | 'THAWED'): void {
  const qos = pod.status.qosClass.toLowerCase();
  const cgroup = join('/sys/fs/cgroup/freezer', cluster.cgroupRoot, 'kubepods', ...(qos === 'guaranteed' ? [] : [qos]), `pod${pod.metadata.uid}`);
  writeFileSync(join(cgroup, 'freezer.state'), state);
}

async function nodeReady(): Promise<boolean> {
  const node = await kubectl.json(['get', 'node', cluster.nodeName]);
  return node.status.conditions.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

test('node lost: keys quarantined while the pod exists, returned once it is force-deleted', async () => {
  const held = await waitUntil('the pod holding its keys', 30_000, async () => (await assignments(kubectl)).pods.find((p) => p.podName.endsWith(POD)));
  const kubelet = kubeletPid();
  const lost = performance.now();
  process.kill(kubelet, 'SIGSTOP');
  freezePod('FROZEN');
  try {
    await waitUntil('the node NotReady', 120_000, async () => ((await nodeReady()) ? undefined : true), 1000);
    const quarantined = await waitUntil('the keys quarantined', 120_000, async () => {
      const now = await assignments(kubectl);
      const q = now.quarantined.filter((k) => held.pubKeys.includes(k.pubKey));
      return q.length === KEYS ? q : undefined;
    }, 500);
    const quarantinedAfter = (performance.now() - lost) / 1000;
    assert.ok(quarantined.every((k) => k.podName.endsWith(POD)));
    // While the pod object exists they stay quarantined (a lease TTL later, still so).
    await new Promise((r) => setTimeout(r, 10_000));
    const still = (await assignments(kubectl)).quarantined.filter((k) => held.pubKeys.includes(k.pubKey));
    assert.is(still.length, KEYS, 'still quarantined while the pod exists');

    const deleted = performance.now();
    await kubectl.run(['-n', VALIDATORS, 'delete', 'pod', POD, '--force', '--grace-period=0']);
    const returned = await waitUntil('the keys returned', 60_000, async () => {
      const now = await assignments(kubectl);
      return now.quarantined.some((k) => held.pubKeys.includes(k.pubKey)) ? undefined : now;
    }, 100);
    const cooling = returned.cooling.filter((k) => held.pubKeys.includes(k.pubKey)).length;
    process.stdout.write(`measured: recovery after node loss: keys quarantined ${quarantinedAfter.toFixed(1)} s after the node went dark (lease TTL 30 s), returned ${((performance.now() - deleted) / 1000).toFixed(2)} s after the force-delete (${KEYS - cooling} unallocated, ${cooling} cooling)\n`);
  } finally {
    freezePod('THAWED');
    process.kill(kubelet, 'SIGCONT');
  }
  await waitUntil('the node Ready again', 120_000, async () => ((await nodeReady()) ? true : undefined), 1000);
  await kubectl.run(['-n', VALIDATORS, 'delete', 'statefulset', NAME, '--wait=false']);
});

test.run();
