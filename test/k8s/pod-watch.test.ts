/**
 * PodWatch against a real API server, with the coordinator's RBAC from k8s/base: it sees pods come and
 * go, reports deletions, and never calls a pod gone while it is not in sync (before its first list, or
 * while its connection is cut).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { PodWatch, type PodRef } from '../../coordinator/k8s/watch/pod-watch.js';
import { createLogger } from '../../shared/log/logger.js';
import { LinkProxy } from '../support/tcp-proxy.js';
import { useCluster } from './support/cluster.js';
import { coordinatorCredentials } from './support/coordinator-rbac.js';
import { createServiceAccount, createTestNamespace, eventually, validatorPod } from './support/kube-objects.js';
import { adminKubeConfig, kubeClientOf, tokenKubeConfig, type ClusterConnection } from './support/local-cluster.js';
import { reported } from './support/reported.js';

let cluster: { connection: ClusterConnection; release(): Promise<void> };
let admin: KubeConfig;
let coordinator: KubeConfig;
let namespace: string;
const logLines: string[] = [];
const logger = createLogger({ level: 'debug', component: 'pod-watch', sink: (l) => logLines.push(l) });

const core = () => admin.makeApiClient(CoreV1Api);
const createPod = async (name: string) => (await core().createNamespacedPod({ namespace, body: validatorPod(name, 'validator') })).metadata!.uid!;
const deletePod = (name: string) => core().deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });

test.before(reported(async () => {
  cluster = await useCluster();
  admin = adminKubeConfig(cluster.connection);
  namespace = await createTestNamespace(admin, 'watch');
  await createServiceAccount(admin, namespace, 'validator');
  coordinator = await coordinatorCredentials(cluster.connection, admin, [namespace]);
}));

test.after(async () => {
  await cluster?.release();
});

test('pods are known after the first list; a deletion is seen and reported', async () => {
  const uid = await createPod('listed-before-start');
  const deleted: PodRef[] = [];
  const watch = await PodWatch.start({ kube: kubeClientOf(coordinator), namespaces: [namespace], logger, onDeleted: (p) => deleted.push(p) });
  try {
    assert.ok(watch.synced);
    assert.is(watch.isOrphaned(namespace, 'listed-before-start'), false);
    assert.is(watch.isOrphaned(namespace, 'listed-before-start', uid), false);
    assert.is(watch.isOrphaned(namespace, 'never-existed'), true);

    await createPod('validator-0');
    await eventually('the watch sees the new pod', () => !watch.isOrphaned(namespace, 'validator-0'));
    await deletePod('validator-0');
    await eventually('the watch sees the deletion', () => watch.isOrphaned(namespace, 'validator-0'));
    assert.equal(deleted.map((p) => p.podName), ['validator-0']);
    assert.equal(
      watch.gone([{ namespace, podName: 'validator-0' }, { namespace, podName: 'listed-before-start' }]).map((p) => p.podName),
      ['validator-0'],
    );
  } finally {
    await watch.stop();
  }
});

test('a pod recreated under the same name is a different pod when the uid is given', async () => {
  const oldUid = await createPod('validator-1');
  const watch = await PodWatch.start({ kube: kubeClientOf(coordinator), namespaces: [namespace], logger });
  try {
    await deletePod('validator-1');
    const newUid = await createPod('validator-1');
    await eventually('the watch sees the replacement', () => !watch.isOrphaned(namespace, 'validator-1', newUid));
    assert.is(watch.isOrphaned(namespace, 'validator-1', oldUid), true);
    assert.is(watch.isOrphaned(namespace, 'validator-1'), false);
  } finally {
    await watch.stop();
  }
});

test('a namespace not watched, or a watch never in sync, calls nothing orphaned', async () => {
  const watch = await PodWatch.start({ kube: kubeClientOf(coordinator), namespaces: [namespace], logger });
  assert.is(watch.isOrphaned('some-other-namespace', 'anything'), false);
  await watch.stop();

  const unreachable = tokenKubeConfig({ ...cluster.connection, server: 'https://127.0.0.1:1' }, 'irrelevant');
  const blind = await PodWatch.start({ kube: kubeClientOf(unreachable), namespaces: [namespace], logger, restartDelayMs: 100 });
  try {
    assert.is(blind.synced, false);
    assert.is(blind.isOrphaned(namespace, 'never-existed'), false);
  } finally {
    await blind.stop();
  }
});

test('after its connection is cut the watch is out of sync, then restarts and catches up', async () => {
  const port = Number(new URL(cluster.connection.server).port);
  const proxy = await LinkProxy.start(port);
  const throughProxy = tokenKubeConfig({ ...cluster.connection, server: `https://127.0.0.1:${proxy.port}` }, coordinator.getCurrentUser()!.token!);
  const watch = await PodWatch.start({ kube: kubeClientOf(throughProxy), namespaces: [namespace], logger, restartDelayMs: 200 });
  try {
    assert.ok(watch.synced);
    proxy.setCut(true);
    await eventually('the watch notices the cut', () => !watch.synced);
    assert.is(watch.isOrphaned(namespace, 'made-during-the-cut'), false, 'unknown while out of sync');
    await createPod('made-during-the-cut');
    await deletePod('listed-before-start');
    proxy.setCut(false);
    await eventually('the watch is back in sync', () => watch.synced, 20_000);
    await eventually('it caught up with what happened meanwhile', () => !watch.isOrphaned(namespace, 'made-during-the-cut') && watch.isOrphaned(namespace, 'listed-before-start'));
    assert.ok(logLines.some((l) => l.includes('pod watch failed; restarting it')));
  } finally {
    await watch.stop();
    await proxy.close();
  }
});

test('stopping reports no error (client-node signals its own abort as one)', async () => {
  const before = logLines.length;
  const watch = await PodWatch.start({ kube: kubeClientOf(coordinator), namespaces: [namespace], logger });
  await watch.stop();
  await new Promise((r) => setTimeout(r, 300));
  assert.not.ok(logLines.slice(before).some((l) => l.includes('"level":"warn"')), logLines.slice(before).join('\n'));
});

test.run();
