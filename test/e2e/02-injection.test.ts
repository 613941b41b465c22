/**
 * A validator pod from k8s/examples (Lodestar's, signer mode, 4 keys) on the real node: the webhook
 * injects the agent (the regular-sidecar form, since the server is 1.20), the kubelet mounts the
 * projected token the agent claims with, the agent's postStart hook holds the client back until the
 * signer serves the keys, and the agent's real memory stays under its limit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assignments, ensureKeylease, VALIDATORS } from './support/deploy.js';
import { e2eCluster, waitUntil } from './support/kube.js';
import { exampleValidator, firstKeys, waitForReadyPod } from './support/validators.js';

const cluster = e2eCluster();
const { kubectl } = await ensureKeylease(cluster);
const NAME = 'lodestar-inject';
const POD = `${NAME}-0`;
const KEYS = 4;

const created = performance.now();
await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: exampleValidator(cluster, 'lodestar', NAME, KEYS) }));
const pod = await waitForReadyPod(kubectl, POD);
process.stdout.write(`measured: validator pod ready ${((performance.now() - created) / 1000).toFixed(1)} s after its StatefulSet was created (agent injected, ${KEYS} keys claimed)\n`);

test('the webhook injected the agent as a regular sidecar placed first (1.20), with the projected keylease token', () => {
  const containers = pod.spec.containers.map((c: { name: string }) => c.name);
  assert.equal(containers, ['keylease-agent', 'lodestar']);
  assert.not.ok(pod.spec.initContainers?.some((c: { name: string }) => c.name === 'keylease-agent'), 'no native sidecar on 1.20');
  const agent = pod.spec.containers[0];
  assert.ok(agent.lifecycle?.postStart, 'the agent holds the next container back with a postStart hook');
  const token = pod.spec.volumes.find((v: { name: string }) => v.name === 'keylease-token');
  const source = token.projected.sources.find((s: { serviceAccountToken?: unknown }) => s.serviceAccountToken).serviceAccountToken;
  assert.is(source.audience, 'keylease');
  const client = pod.spec.containers[1];
  assert.is(client.lifecycle.preStop.httpGet.path, '/prestop');
  assert.ok(client.env.some((e: { name: string }) => e.name === 'KEYLEASE_SIGNER_URL'));
});

test('the agent claimed the keys with its projected token: the coordinator holds them for this pod', async () => {
  const held = await waitUntil('the pod in /assignments', 30_000, async () => (await assignments(kubectl)).pods.find((p) => p.podName.endsWith(POD)));
  assert.is(held.pubKeys.length, KEYS);
  assert.is(held.pool, 'default');
  // The kubelet wrote a pod-bound token of the keylease audience where the agent reads it.
  const tokenDir = join(cluster.kubeletRootDir, 'pods', pod.metadata.uid, 'volumes', 'kubernetes.io~projected', 'keylease-token');
  const claims = JSON.parse(Buffer.from(readFileSync(join(tokenDir, 'token'), 'utf8').split('.')[1]!, 'base64url').toString('utf8'));
  assert.equal(claims.aud, ['keylease']);
  assert.is(claims['kubernetes.io'].pod.name, POD);
  assert.is(claims['kubernetes.io'].namespace, VALIDATORS);
});

test('the client container started only after the agent was ready: its first call to the signer got every key', async () => {
  const held = (await assignments(kubectl)).pods.find((p) => p.podName.endsWith(POD))!;
  const first = await waitUntil('the client\'s first signer call in its log', 30_000, () => firstKeys(kubectl, POD, 'lodestar'));
  assert.ok(Array.isArray(first.firstKeys), `the signer answered: ${JSON.stringify(first.firstKeys)}`);
  assert.equal([...(first.firstKeys as string[])].sort(), [...held.pubKeys].sort());
  const agentStarted = Date.parse(pod.status.containerStatuses.find((c: { name: string }) => c.name === 'keylease-agent').state.running.startedAt);
  const clientStarted = Date.parse(pod.status.containerStatuses.find((c: { name: string }) => c.name === 'lodestar').state.running.startedAt);
  assert.ok(clientStarted >= agentStarted, 'client started after the agent');
});

test('the agent\'s real memory (RSS from its container\'s memory cgroup) stays under its memory limit', async () => {
  const status = pod.status.containerStatuses.find((c: { name: string }) => c.name === 'keylease-agent');
  const containerId = status.containerID.replace(/^containerd:\/\//, '');
  const podCgroup = `pod${pod.metadata.uid}`;
  const qos = pod.status.qosClass.toLowerCase();
  const base = join('/sys/fs/cgroup/memory', cluster.cgroupRoot, 'kubepods', ...(qos === 'guaranteed' ? [] : [qos]), podCgroup, containerId);
  const stat = Object.fromEntries(readFileSync(join(base, 'memory.stat'), 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]));
  const cgroupRss = Number(stat['total_rss']);
  const limit = Number(readFileSync(join(base, 'memory.limit_in_bytes'), 'utf8'));
  // The container's processes, from the cgroup; their VmRSS counts node's own mapped code as well, which
  // the cgroup charged to whoever read the image's files first.
  const pids = readFileSync(join(base, 'cgroup.procs'), 'utf8').trim().split('\n');
  const vmRss = pids.reduce((sum, pid) => sum + Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024, 0);
  const specLimit = pod.spec.containers[0].resources.limits.memory as string;
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  process.stdout.write(`measured: agent RSS in a real pod ${mib(vmRss)} MiB (VmRSS of the ${pids.length} process(es) in its memory cgroup; the cgroup's anonymous rss ${mib(cgroupRss)} MiB; limit ${specLimit} = ${mib(limit)} MiB; ${KEYS} keys, signer mode, signing 4 blocks a second)\n`);
  assert.is(limit, 384 * 2 ** 20, 'the kubelet applied the injected limit');
  assert.ok(cgroupRss > 0 && cgroupRss < limit, `cgroup rss ${cgroupRss} under ${limit}`);
  assert.ok(vmRss > 0 && vmRss < limit, `VmRSS ${vmRss} under ${limit}`);
});

test.run();
