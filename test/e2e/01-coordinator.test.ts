/**
 * The coordinator as k8s/ deploys it, on a real node: a 3-replica StatefulSet that elects a leader over
 * the headless Service's pod names, the webhook registered and serving, the Services and PDBs in place.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { coordinatorPods, ensureKeylease, NAMESPACE } from './support/deploy.js';
import { e2eCluster, podReady } from './support/kube.js';

const cluster = e2eCluster();
const started = performance.now();
const { kubectl } = await ensureKeylease(cluster);
process.stdout.write(`measured: keylease deployed (3 coordinators and the webhook ready) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

test('three coordinator replicas run on the node, each ready (it knows a leader), all agreeing on one', async () => {
  const pods = await coordinatorPods(kubectl);
  assert.is(pods.length, 3);
  const leaders = new Set<string>();
  for (const pod of pods) {
    assert.ok(podReady(pod), `${pod.metadata.name} is ready`);
    assert.is(pod.spec.nodeName, cluster.nodeName);
    const status = (await (await fetch(`http://${pod.status.podIP}:7401/raft/status`)).json()) as { lead: string | null };
    assert.ok(status.lead, `${pod.metadata.name} knows a leader`);
    leaders.add(status.lead!);
  }
  assert.is(leaders.size, 1, `one leader seen by all: ${[...leaders].join(' / ')}`);
});

test('the Services: headless peers publishing not-ready addresses, and the client Service with a ClusterIP', async () => {
  const peers = await kubectl.json(['-n', NAMESPACE, 'get', 'service', 'keylease-peers']);
  assert.is(peers.spec.clusterIP, 'None');
  assert.is(peers.spec.publishNotReadyAddresses, true);
  const endpoints = await kubectl.json(['-n', NAMESPACE, 'get', 'endpoints', 'keylease-peers']);
  assert.is(endpoints.subsets[0].addresses.length, 3);
  const api = await kubectl.json(['-n', NAMESPACE, 'get', 'service', 'keylease-coordinator']);
  assert.match(api.spec.clusterIP, /^10\.0\.0\.\d+$/);
  // Through kube-proxy's rules: the ClusterIP answers.
  const health = await fetch(`http://${api.spec.clusterIP}:7401/healthz`);
  assert.is(health.status, 200);
});

test('the PodDisruptionBudgets are in place and allow one coordinator down', async () => {
  const pdb = await kubectl.json(['-n', NAMESPACE, 'get', 'poddisruptionbudget', 'keylease-coordinator']);
  assert.is(pdb.spec.maxUnavailable, 1);
  assert.is(pdb.status.expectedPods, 3);
  assert.is(pdb.status.disruptionsAllowed, 1);
  assert.ok(await kubectl.find(['-n', NAMESPACE, 'get', 'poddisruptionbudget', 'keylease-webhook']));
});

test('the webhook is registered with its CA and its Service has a ready endpoint', async () => {
  const config = await kubectl.json(['get', 'mutatingwebhookconfiguration', 'keylease-inject']);
  const webhook = config.webhooks[0];
  assert.is(webhook.clientConfig.service.name, 'keylease-webhook');
  assert.ok(webhook.clientConfig.caBundle, 'caBundle set');
  assert.is(webhook.failurePolicy, 'Fail');
  const endpoints = await kubectl.json(['-n', NAMESPACE, 'get', 'endpoints', 'keylease-webhook']);
  assert.ok(endpoints.subsets?.[0]?.addresses?.length >= 1);
});

test.run();
