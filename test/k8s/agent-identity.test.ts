/**
 * End to end with a real API server: a coordinator process with pod identity on (its pool policy and
 * the coordinator's own RBAC), an agent process that proves its pod with a real pod-bound token, and
 * refusals for a token lent to another pod and for a pod outside the policy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { status } from '@grpc/grpc-js';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { readFile, writeFile } from 'node:fs/promises';
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
/** A second namespace the policy also admits: pods there may share names with pods in the first. */
let otherNamespace: string;
let dir: Awaited<ReturnType<typeof tempDir>>;
let coordinator: StartedCoordinator;

async function podTokenFile(name: string, serviceAccount = 'validator', inNamespace = namespace): Promise<string> {
  const created = await admin.makeApiClient(CoreV1Api).createNamespacedPod({ namespace: inNamespace, body: validatorPod(name, serviceAccount) });
  const token = await requestToken(admin, inNamespace, serviceAccount, { audience: 'keylease', pod: { name, uid: created.metadata!.uid! } });
  const file = join(dir.path, `${inNamespace}-${name}-${created.metadata!.uid}.token`);
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
  otherNamespace = await createTestNamespace(admin, 'agents-b');
  await createServiceAccount(admin, otherNamespace, 'validator');
  dir = await tempDir('agent-identity');
  const kubeconfigFile = join(dir.path, 'coordinator.kubeconfig');
  await writeFile(kubeconfigFile, (await coordinatorCredentials(used.connection, admin, [namespace, otherNamespace])).exportConfig(), { mode: 0o600 });
  const policyFile = join(dir.path, 'pools.yaml');
  await writeFile(policyFile, `pools:\n  default:\n    - namespace: ${namespace}\n      serviceAccounts: [validator]\n    - namespace: ${otherNamespace}\n      serviceAccounts: [validator]\n`);
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
    assert.equal(assignments.pods.map((p) => p.podName), [`${namespace}/validator-0`], 'the holder is the token\'s pod, with its namespace');
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
    orphaned = doc.pods.find((p) => p.podName === `${namespace}/validator-0`)?.orphaned ?? false;
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
    assert.not.ok(assignments.pods.some((p) => p.podName !== `${namespace}/validator-0`), 'nothing was granted to the refused calls');
  } finally {
    lent.close();
    anonymous.close();
    intruderClient.close();
  }
});

test('renewals on the stream are checked against the token: a token of another pod is refused, and a changed token file opens a new stream', async () => {
  const tokenFile = await podTokenFile('validator-3');
  const own = await readFile(tokenFile, 'utf8');
  const client = new CoordinatorClient([coordinator.grpcEndpoint], undefined, tokenFile);
  const otherTokenFile = await podTokenFile('validator-4');
  const lent = new CoordinatorClient([coordinator.grpcEndpoint], undefined, otherTokenFile);
  try {
    const lease = await client.claim('validator-3', 'default', 1, 10_000);
    assert.is((await client.renew('validator-3', lease.leaseId, 10_000)).leaseTtlMs, lease.leaseTtlMs, 'renewed with its own token');
    const another = await callRefusal(lent.renew('validator-3', lease.leaseId, 10_000));
    assert.is(another.status, status.UNAUTHENTICATED);
    assert.is(another.refusalCode, 'TOKEN_FOR_ANOTHER_POD');
    // The kubelet rewrites the token file; here with another pod's token, which the next renewal must carry.
    await writeFile(tokenFile, await readFile(otherTokenFile, 'utf8'));
    const swapped = await callRefusal(client.renew('validator-3', lease.leaseId, 10_000));
    assert.is(swapped.refusalCode, 'TOKEN_FOR_ANOTHER_POD', 'the stream opened with the first token did not carry on');
    await writeFile(tokenFile, own);
    assert.is((await client.renew('validator-3', lease.leaseId, 10_000)).leaseTtlMs, lease.leaseTtlMs, 'renewed again with its own token');
  } finally {
    client.close();
    lent.close();
  }
});

test('pods of one name in two namespaces hold separate leases, and neither can release the other\'s', async () => {
  const here = new CoordinatorClient([coordinator.grpcEndpoint], undefined, await podTokenFile('validator-5'));
  const there = new CoordinatorClient([coordinator.grpcEndpoint], undefined, await podTokenFile('validator-5', 'validator', otherNamespace));
  try {
    const mine = await here.claim('validator-5', 'default', 1, 10_000);
    const theirs = await there.claim('validator-5', 'default', 1, 10_000);
    assert.is.not(theirs.leaseId, mine.leaseId, 'the namesake got a lease of its own');
    assert.is.not(theirs.keys[0]!.pubKey, mine.keys[0]!.pubKey, 'and other keys');
    const refused = await callRefusal(there.release('validator-5', mine.leaseId, 10_000));
    assert.is(refused.refusalCode, 'LEASE_NOT_FOUND');
    const holders = (await fetchAssignments(coordinator.httpBase)).pods.map((p) => p.podName);
    assert.ok(holders.includes(`${namespace}/validator-5`) && holders.includes(`${otherNamespace}/validator-5`), `both leases live: ${holders.join(', ')}`);
  } finally {
    here.close();
    there.close();
  }
});

test('a pod recreated under the same name gets nothing of its predecessor\'s lease while that lease lives', async () => {
  const first = new CoordinatorClient([coordinator.grpcEndpoint], undefined, await podTokenFile('validator-6'));
  let second: CoordinatorClient | null = null;
  try {
    const lease = await first.claim('validator-6', 'default', 1, 10_000);
    // The StatefulSet case: the old pod is force-deleted (its node lost, its containers maybe still running) and recreated.
    await admin.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'validator-6', namespace, gracePeriodSeconds: 0 });
    second = new CoordinatorClient([coordinator.grpcEndpoint], undefined, await podTokenFile('validator-6'));
    const refused = await callRefusal(second.claim('validator-6', 'default', 1, 10_000));
    assert.is(refused.status, status.FAILED_PRECONDITION);
    assert.is(refused.refusalCode, 'PREVIOUS_POD_HOLDS_LEASE');
    const renewal = await callRefusal(second.renew('validator-6', lease.leaseId, 10_000));
    assert.is(renewal.refusalCode, 'LEASE_NOT_FOUND', 'nor can it keep the old lease alive');
    const held = (await fetchAssignments(coordinator.httpBase)).pods.find((p) => p.podName === `${namespace}/validator-6`);
    assert.is(held?.leaseId, lease.leaseId, 'the predecessor\'s lease runs on until it expires');
  } finally {
    first.close();
    second?.close();
  }
});

test('node loss: keys whose lease expired stay quarantined while the pod exists, and return once Kubernetes shows it gone', async () => {
  // A coordinator of its own with a short lease and a one-key pool, so the second pod can only get the first one's key.
  const own = await tempDir('quarantine');
  const policyFile = join(own.path, 'pools.yaml');
  await writeFile(policyFile, `pools:\n  default:\n    - namespace: ${namespace}\n      serviceAccounts: [validator]\n`);
  const kubeconfigFile = join(dir.path, 'coordinator.kubeconfig');
  const secrets = await writeSecrets(own.path);
  const short = await startCoordinatorProcess({
    dataDir: join(own.path, 'data'),
    ...secrets,
    extra: ['--pool-policy-file', policyFile, '--kubeconfig', kubeconfigFile, '--lease-ttl-ms', '2000', '--cooling-ms', '500', '--pool-max-keys', '1'],
  });
  const lost = new CoordinatorClient([short.grpcEndpoint], undefined, await podTokenFile('validator-7'));
  const next = new CoordinatorClient([short.grpcEndpoint], undefined, await podTokenFile('validator-8'));
  try {
    // A files-mode pod on a node that is lost: it claims, then never renews or releases.
    const lease = await lost.claim('validator-7', 'default', 1, 10_000, 'files');
    await short.process.waitForMessage('lease expired without renewal', 10_000);
    const quarantined = (await fetchAssignments(short.httpBase) as unknown as { quarantined: Array<{ pubKey: string; podName: string }> }).quarantined;
    assert.equal(quarantined.map((k) => [k.pubKey, k.podName]), [[lease.keys[0]!.pubKey, `${namespace}/validator-7`]]);
    // Its pod still exists (the node may come back and its client still sign): nobody gets the key.
    const refused = await callRefusal(next.claim('validator-8', 'default', 1, 10_000, 'files'));
    assert.is(refused.refusalCode, 'POOL_EXHAUSTED', 'the quarantined key is not handed out');
    // The node is declared lost and its pod force-deleted: the key cools down and returns.
    await admin.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'validator-7', namespace, gracePeriodSeconds: 0 });
    const gone = await short.process.waitForMessage('the pod that last held quarantined keys is gone: they cool down and return', 20_000);
    assert.is(gone['podName'], `${namespace}/validator-7`);
    let granted: Awaited<ReturnType<CoordinatorClient['claim']>> | null = null;
    for (let attempt = 0; attempt < 100 && !granted; attempt++) {
      granted = await next.claim('validator-8', 'default', 1, 10_000, 'files').catch(() => null);
      if (!granted) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.is(granted?.keys[0]?.pubKey, lease.keys[0]!.pubKey, 'the next pod gets the key once the lost pod is gone');
  } finally {
    lost.close();
    next.close();
    await short.process.kill('SIGKILL');
    await own.cleanup();
  }
});

test.run();
