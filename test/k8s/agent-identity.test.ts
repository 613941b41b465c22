/**
 * End to end with a real API server: a coordinator process with pod identity on (its pool policy and
 * the coordinator's own RBAC), an agent process that proves its pod with a real pod-bound token, and
 * refusals for a token lent to another pod and for a pod outside the policy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { status } from '@grpc/grpc-js';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorClient } from '../../agent/coordinator-client.js';
import { fetchAssignments, startCoordinatorProcess, writeSecrets, type StartedCoordinator } from '../support/coordinator-fixture.js';
import { KeyleaseProcess } from '../support/processes.js';
import { callRefusal } from '../support/call-refusal.js';
import { tempDir } from '../support/temp-dir.js';
import { useCluster } from './support/cluster.js';
import { coordinatorCredentials } from './support/coordinator-rbac.js';
import { createServiceAccount, createTestNamespace, requestToken, validatorPod } from './support/kube-objects.js';
import { adminKubeConfig } from './support/local-cluster.js';
import { reported } from './support/reported.js';

let cluster: { release(): Promise<void> };
let admin: KubeConfig;
let namespace: string;
let dir: Awaited<ReturnType<typeof tempDir>>;
let coordinator: StartedCoordinator;

async function podTokenFile(name: string, serviceAccount = 'validator'): Promise<string> {
  const created = await admin.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body: validatorPod(name, serviceAccount) });
  const token = await requestToken(admin, namespace, serviceAccount, { audience: 'keylease', pod: { name, uid: created.metadata!.uid! } });
  const file = join(dir.path, `${name}.token`);
  await writeFile(file, token, { mode: 0o600 });
  return file;
}


test.before(reported(async () => {
  const used = await useCluster();
  cluster = used;
  admin = adminKubeConfig(used.connection);
  namespace = await createTestNamespace(admin, 'agents');
  await createServiceAccount(admin, namespace, 'validator');
  await createServiceAccount(admin, namespace, 'intruder');
  dir = await tempDir('agent-identity');
  const kubeconfigFile = join(dir.path, 'coordinator.kubeconfig');
  await writeFile(kubeconfigFile, (await coordinatorCredentials(used.connection, admin, [namespace])).exportConfig(), { mode: 0o600 });
  const policyFile = join(dir.path, 'pools.yaml');
  await writeFile(policyFile, `pools:\n  default:\n    - namespace: ${namespace}\n      serviceAccounts: [validator]\n`);
  const secrets = await writeSecrets(dir.path);
  coordinator = await startCoordinatorProcess({ dataDir: join(dir.path, 'data'), ...secrets, extra: ['--pool-policy-file', policyFile, '--kubeconfig', kubeconfigFile] });
}));

test.after(async () => {
  await coordinator?.process.kill('SIGKILL');
  await dir?.cleanup();
  await cluster?.release();
});

test('an agent proves its pod with its projected token and gets keys; the lease is the token\'s pod', async () => {
  const tokenFile = await podTokenFile('validator-0');
  const agent = new KeyleaseProcess(['agent', '--coordinator', coordinator.grpcEndpoint, '--pod-name', 'validator-0', '--keys', '1', '--layout', 'plain', '--out', join(dir.path, 'pod-0'), '--token-file', tokenFile, '--health-listen', '127.0.0.1:0']);
  try {
    await agent.waitForMessage('keys claimed and written', 30_000);
    const assignments = await fetchAssignments(coordinator.httpBase);
    assert.equal(assignments.pods.map((p) => p.podName), ['validator-0']);
  } finally {
    await agent.kill('SIGKILL');
  }
});

test('a deleted pod\'s lease is shown orphaned (and kept: the lease and the fence decide)', async () => {
  await admin.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'validator-0', namespace, gracePeriodSeconds: 0 });
  const deadline = Date.now() + 15_000;
  let orphaned = false;
  while (!orphaned && Date.now() < deadline) {
    const doc = (await fetchAssignments(coordinator.httpBase)) as unknown as { pods: Array<{ podName: string; orphaned: boolean }> };
    orphaned = doc.pods.find((p) => p.podName === 'validator-0')?.orphaned ?? false;
    if (!orphaned) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(orphaned, 'the lease of the deleted pod is orphaned');
  const metrics = await (await fetch(`${coordinator.httpBase}/metrics`)).text();
  assert.match(metrics, /keylease_orphaned_leases\{pool="default"\} 1/);
});

test('a token lent to another pod, no token, and a service account outside the policy are refused', async () => {
  const tokenFile = await podTokenFile('validator-1');
  const lent = new CoordinatorClient([coordinator.grpcEndpoint], undefined, tokenFile);
  const anonymous = new CoordinatorClient([coordinator.grpcEndpoint]);
  const intruderClient = new CoordinatorClient([coordinator.grpcEndpoint], undefined, await podTokenFile('intruder-0', 'intruder'));
  try {
    const another = await callRefusal(lent.claim('validator-9', 'default', 1, 10_000));
    assert.is(another.status, status.UNAUTHENTICATED);
    assert.is(another.refusalCode, 'TOKEN_FOR_ANOTHER_POD');
    const none = await callRefusal(anonymous.claim('validator-1', 'default', 1, 10_000));
    assert.is(none.status, status.UNAUTHENTICATED);
    const intruder = await callRefusal(intruderClient.claim('intruder-0', 'default', 1, 10_000));
    assert.is(intruder.status, status.PERMISSION_DENIED);
    assert.is(intruder.refusalCode, 'POOL_FORBIDDEN');
    const assignments = await fetchAssignments(coordinator.httpBase);
    assert.not.ok(assignments.pods.some((p) => p.podName !== 'validator-0'), 'nothing was granted to the refused calls');
  } finally {
    lent.close();
    anonymous.close();
    intruderClient.close();
  }
});

test.run();
