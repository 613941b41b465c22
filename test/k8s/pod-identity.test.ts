/**
 * PodIdentityVerifier against a real API server, running with the coordinator's own RBAC from k8s/base
 * (only namespaces renamed for the test), with tokens made by the TokenRequest API exactly as the
 * kubelet makes them for a projected volume (pod-bound, audience keylease).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { PodIdentityError } from '../../coordinator/identity/identity-error.js';
import { PodIdentityVerifier } from '../../coordinator/k8s/identity/pod-identity-verifier.js';
import { PoolPolicy } from '../../coordinator/k8s/identity/pool-policy.js';
import { useCluster } from './support/cluster.js';
import { coordinatorCredentials } from './support/coordinator-rbac.js';
import { createServiceAccount, createTestNamespace, requestToken, validatorPod } from './support/kube-objects.js';
import { adminKubeConfig, kubeClientOf, tokenKubeConfig, type ClusterConnection } from './support/local-cluster.js';
import { reported } from './support/reported.js';

let cluster: { connection: ClusterConnection; release(): Promise<void> };
let admin: KubeConfig;
let coordinator: KubeConfig;
let namespace: string;

async function createPod(name: string, serviceAccount = 'validator', extra: { finalizers?: string[] } = {}): Promise<string> {
  const pod = validatorPod(name, serviceAccount);
  pod.metadata!.finalizers = extra.finalizers ?? [];
  const created = await admin.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body: pod });
  return created.metadata!.uid!;
}

const podToken = (name: string, uid: string, serviceAccount = 'validator', audience = 'keylease') =>
  requestToken(admin, namespace, serviceAccount, { audience, pod: { name, uid } });

async function refusal(promise: Promise<unknown>): Promise<PodIdentityError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, PodIdentityError);
    return error as PodIdentityError;
  }
  throw new assert.Assertion({ message: 'expected a refusal, the token was accepted', generated: false, operator: 'throws', expects: 'refusal', actual: 'accepted' });
}

test.before(reported(async () => {
  cluster = await useCluster();
  admin = adminKubeConfig(cluster.connection);
  namespace = await createTestNamespace(admin, 'identity');
  await createServiceAccount(admin, namespace, 'validator');
  await createServiceAccount(admin, namespace, 'other');
  coordinator = await coordinatorCredentials(cluster.connection, admin, [namespace]);
}));

test.after(async () => {
  await cluster?.release();
});

test('a pod-bound projected token proves the pod: name, uid, namespace and service account from the review', async () => {
  const uid = await createPod('validator-0');
  const token = await podToken('validator-0', uid);
  const identity = await new PodIdentityVerifier({ kube: kubeClientOf(coordinator) }).verify(token);
  assert.equal(identity, { podName: 'validator-0', podUid: uid, namespace, serviceAccount: 'validator', terminating: false });
  assert.equal(await new PodIdentityVerifier({ kube: kubeClientOf(coordinator) }).verify(`  ${token}\n`, { podName: 'validator-0', namespace }), identity);
});

test('a token used for another pod is refused', async () => {
  const uidA = await createPod('pod-a');
  await createPod('pod-b');
  const tokenA = await podToken('pod-a', uidA);
  const verifier = new PodIdentityVerifier({ kube: kubeClientOf(coordinator) });
  const error = await refusal(verifier.verify(tokenA, { podName: 'pod-b' }));
  assert.is(error.code, 'TOKEN_FOR_ANOTHER_POD');
  assert.is(error.kind, 'unauthenticated');
  assert.match(error.message, new RegExp(`the token belongs to pod ${namespace}/pod-a, but the request is for pod ${namespace}/pod-b`));
  assert.is((await refusal(verifier.verify(tokenA, { podName: 'pod-a', namespace: 'elsewhere' }))).code, 'TOKEN_FOR_ANOTHER_POD');
});

test('a token for another audience is refused, whether a pod\'s or the API server\'s', async () => {
  const uid = await createPod('wrong-audience');
  const verifier = new PodIdentityVerifier({ kube: kubeClientOf(coordinator) });
  for (const audience of ['vault', 'https://kubernetes.default.svc.cluster.local']) {
    const token = await podToken('wrong-audience', uid, 'validator', audience);
    const error = await refusal(verifier.verify(token));
    assert.is(error.kind, 'unauthenticated');
    assert.is(error.code, 'TOKEN_REJECTED');
    assert.match(error.message, /Kubernetes did not accept the token/);
    assert.not.ok(error.message.includes(token), 'the token never appears in a message');
  }
});

test('a service account token not bound to a pod is refused', async () => {
  const token = await requestToken(admin, namespace, 'validator', { audience: 'keylease' });
  const error = await refusal(new PodIdentityVerifier({ kube: kubeClientOf(coordinator) }).verify(token));
  assert.is(error.code, 'TOKEN_NOT_POD_BOUND');
  assert.match(error.message, new RegExp(`service account ${namespace}/validator is not bound to a pod`));
});

test('the token of a deleted pod is refused at once, though the API server still accepts it for a while', async () => {
  const uid = await createPod('short-lived');
  const token = await podToken('short-lived', uid);
  const verifier = new PodIdentityVerifier({ kube: kubeClientOf(coordinator) });
  await verifier.verify(token);
  await admin.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'short-lived', namespace, gracePeriodSeconds: 0 });
  const cached = await refusal(verifier.verify(token));
  assert.is(cached.code, 'POD_GONE');
  assert.match(cached.message, new RegExp(`pod ${namespace}/short-lived no longer exists`));
  // A verifier without our cache: the API server's own cache may still vouch for the token; the pod read refuses it.
  const fresh = await refusal(new PodIdentityVerifier({ kube: kubeClientOf(coordinator) }).verify(token));
  assert.ok(['POD_GONE', 'TOKEN_REJECTED'].includes(fresh.code), fresh.code);
});

test('the token of a pod since replaced under the same name (a StatefulSet restart) is refused', async () => {
  const oldUid = await createPod('validator-1');
  const token = await podToken('validator-1', oldUid);
  const verifier = new PodIdentityVerifier({ kube: kubeClientOf(coordinator) });
  await verifier.verify(token);
  await admin.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'validator-1', namespace, gracePeriodSeconds: 0 });
  const newUid = await createPod('validator-1');
  const error = await refusal(verifier.verify(token));
  assert.is(error.code, 'POD_REPLACED');
  assert.ok(error.message.includes(oldUid) && error.message.includes(newUid), error.message);
  // The new pod's own token works.
  assert.is((await verifier.verify(await podToken('validator-1', newUid))).podUid, newUid);
});

test('with the pod watch\'s cache: a pod it holds with the token\'s uid is not read again; anything else is read from the API server', async () => {
  const uid = await createPod('cached-0');
  const token = await podToken('cached-0', uid);
  const asked: string[] = [];
  let cache: { uid: string | undefined; terminating: boolean } | null = { uid, terminating: false };
  const verifier = new PodIdentityVerifier({ kube: kubeClientOf(coordinator), cachedPod: (ns, name) => (asked.push(`${ns}/${name}`), cache) });
  assert.is((await verifier.verify(token)).podUid, uid);
  assert.equal(asked, [`${namespace}/cached-0`]);
  // The cache is trusted when it holds the pod with the token's uid: nothing more is read (shown by deleting
  // the pod behind its back, which the watch would report within moments).
  await admin.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'cached-0', namespace, gracePeriodSeconds: 0 });
  assert.is((await verifier.verify(token)).podUid, uid);
  // A cache that does not hold the pod (it may lag) is checked against the API server, which knows it is gone.
  cache = null;
  assert.is((await refusal(verifier.verify(token))).code, 'POD_GONE');
  // And one holding another uid (it may lag a replacement) too: the real pod decides.
  const replacementUid = await createPod('cached-0');
  cache = { uid: 'a-stale-uid', terminating: false };
  assert.is((await verifier.verify(await podToken('cached-0', replacementUid))).podUid, replacementUid);
});

test('a terminating pod is still recognised (it must release), and says so', async () => {
  const uid = await createPod('terminating', 'validator', { finalizers: ['keylease.io/test-hold'] });
  const token = await podToken('terminating', uid);
  await admin.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'terminating', namespace });
  const identity = await new PodIdentityVerifier({ kube: kubeClientOf(coordinator) }).verify(token);
  assert.is(identity.terminating, true);
});

test('a missing, oversized or forged token is refused with a clear message', async () => {
  const verifier = new PodIdentityVerifier({ kube: kubeClientOf(coordinator) });
  const missing = await refusal(verifier.verify('   '));
  assert.is(missing.code, 'TOKEN_MISSING');
  assert.match(missing.message, /authorization: Bearer <token>/);
  assert.is((await refusal(verifier.verify('x'.repeat(20_000)))).code, 'TOKEN_MALFORMED');
  const forged = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dmFsaWRhdG9yczp2YWxpZGF0b3IifQ.c2lnbmF0dXJl';
  const error = await refusal(verifier.verify(forged));
  assert.is(error.code, 'TOKEN_REJECTED');
  assert.not.ok(error.message.includes(forged));
});

test('an unreachable API server is "unavailable" (retry), not a refusal of the pod', async () => {
  const unreachable = tokenKubeConfig({ ...cluster.connection, server: 'https://127.0.0.1:1' }, 'irrelevant');
  const error = await refusal(new PodIdentityVerifier({ kube: kubeClientOf(unreachable) }).verify('some-token'));
  assert.is(error.kind, 'unavailable');
  assert.is(error.code, 'TOKEN_REVIEW_FAILED');
  assert.not.ok(error.message.includes('some-token'));
});

test('the pool policy decides, from the verified identity, which pool a pod may claim from', async () => {
  const uid = await createPod('policy-0');
  const otherUid = await createPod('policy-1', 'other');
  const verifier = new PodIdentityVerifier({ kube: kubeClientOf(coordinator) });
  const allowed = await verifier.verify(await podToken('policy-0', uid));
  const other = await verifier.verify(await podToken('policy-1', otherUid, 'other'));
  const policy = PoolPolicy.parse(`pools:\n  mainnet:\n    - namespace: ${namespace}\n      serviceAccounts: [validator]\n`, 'policy.yaml');
  policy.assertAllowed(allowed, 'mainnet');
  const forbidden = (() => {
    try {
      policy.assertAllowed(other, 'mainnet');
    } catch (error) {
      return error as PodIdentityError;
    }
    return null;
  })();
  assert.ok(forbidden, 'service account "other" is not granted');
  assert.is(forbidden.kind, 'forbidden');
  assert.match(forbidden.message, new RegExp(`pod ${namespace}/policy-1 \\(service account other\\) may not claim keys from pool "mainnet"`));
  assert.throws(() => policy.assertAllowed(allowed, 'holesky'), /the policy has no such pool/);
});

test('the coordinator\'s RBAC is least privilege: no pods outside its namespaces, no secrets', async () => {
  const elsewhere = await createTestNamespace(admin, 'not-watched');
  const core = coordinator.makeApiClient(CoreV1Api);
  assert.ok(Array.isArray((await core.listNamespacedPod({ namespace })).items), 'pods of its validator namespace are readable');
  for (const call of [() => core.listNamespacedPod({ namespace: elsewhere }), () => core.listNamespacedSecret({ namespace }), () => core.createNamespacedPod({ namespace, body: validatorPod('x', 'validator') })]) {
    const status = await call().then(() => 200, (error: { code?: number }) => error.code);
    assert.is(status, 403);
  }
});

test.run();
