/**
 * The webhook served over HTTPS by startWebhookServer, registered with a real API server through the
 * MutatingWebhookConfiguration of k8s/base (only its endpoint and namespace scope changed for the
 * test): the server applies the patch, and the stored pod is what mutatePod intended.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import { fetchServerVersion } from '../../coordinator/k8s/webhook/server-version-tracker.js';
import { injectionOptions } from '../../coordinator/k8s/webhook/injection-options.js';
import { mutatePod } from '../../coordinator/k8s/webhook/mutate-pod.js';
import type { PodJson } from '../../coordinator/k8s/webhook/pod-json.js';
import { startWebhookServer, type WebhookServer } from '../../coordinator/k8s/webhook/server.js';
import type { ServerVersion } from '../../coordinator/k8s/webhook/server-version.js';
import { createLogger } from '../../shared/log/logger.js';
import { createTestCa } from '../support/certs.js';
import { tempDir } from '../support/temp-dir.js';
import { applyJsonPatch } from './support/apply-json-patch.js';
import { useCluster } from './support/cluster.js';
import { createServiceAccount, createTestNamespace, eventually } from './support/kube-objects.js';
import { adminKubeConfig, kubeClientOf, type ClusterConnection } from './support/local-cluster.js';
import { RawApi } from './support/raw-api.js';
import { reported } from './support/reported.js';

const OPTIONS = injectionOptions({ agentImage: 'registry.example/keylease:0.1.0', coordinatorEndpoints: 'keylease-coordinator.keylease.svc:7400' });
/** Signer mode, the default. */
const ANNOTATIONS = { 'keylease.io/inject': 'true', 'keylease.io/keys': '3', 'keylease.io/pool': 'default', 'keylease.io/container': 'teku' };
const FILES = { ...ANNOTATIONS, 'keylease.io/mode': 'files', 'keylease.io/layout': 'teku' };
const OPT_IN = { 'keylease.io/inject': 'true' };

let cluster: { connection: ClusterConnection; release(): Promise<void> };
let api: RawApi;
let namespace: string;
let webhook: WebhookServer;
let serverVersion: ServerVersion;
let webhookName: string;
const decisions: string[] = [];
let cleanupDir: () => Promise<void>;

function validatorPod(name: string, annotations: Record<string, string>, labels: Record<string, string>, spec: Record<string, unknown> = {}): PodJson & Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations, labels },
    spec: {
      serviceAccountName: 'validator',
      // No API token mount, as in the examples: it keeps the stored pod exactly what injection made it.
      automountServiceAccountToken: false,
      securityContext: { runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
      containers: [
        { name: 'exporter', image: 'prom/node-exporter:v1.8.0' },
        { name: 'teku', image: 'consensys/teku:24.10.0', args: ['validator-client', '--validators-external-signer-url=$(KEYLEASE_SIGNER_URL)'] },
      ],
      ...spec,
    },
  };
}

/** Every field `expected` sets is in `actual` with the same value; arrays have the same length. Server defaults are extra fields and pass. */
function assertSubset(expected: unknown, actual: unknown, path = ''): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} should be an array`);
    assert.is(actual.length, expected.length, `${path} length`);
    expected.forEach((item, i) => assertSubset(item, actual[i], `${path}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${path} should be an object`);
    for (const [key, value] of Object.entries(expected)) assertSubset(value, (actual as Record<string, unknown>)[key], `${path}.${key}`);
  } else {
    assert.is(actual, expected, path);
  }
}

const podsPath = () => `/api/v1/namespaces/${namespace}/pods`;

test.before(reported(async () => {
  cluster = await useCluster();
  api = new RawApi(cluster.connection);
  const kubeConfig = adminKubeConfig(cluster.connection);
  namespace = await createTestNamespace(kubeConfig, 'inject');
  await createServiceAccount(kubeConfig, namespace, 'validator');
  serverVersion = await fetchServerVersion(kubeClientOf(kubeConfig));

  const dir = await tempDir('webhook-k8s');
  cleanupDir = dir.cleanup;
  const ca = createTestCa(dir.path, 'webhook-ca');
  const cert = ca.issue('webhook');
  webhook = await startWebhookServer({
    host: '127.0.0.1',
    port: 0,
    certPem: readFileSync(cert.certFile),
    keyPem: readFileSync(cert.keyFile),
    options: OPTIONS,
    serverVersion: () => serverVersion,
    logger: createLogger({ level: 'info', component: 'webhook', sink: (line) => decisions.push(line) }),
  });

  // The shipped configuration, pointed at this server and confined to this test's namespace.
  const shipped = parseYaml(readFileSync(fileURLToPath(new URL('../../k8s/base/webhook/mutatingwebhookconfiguration.yaml', import.meta.url)), 'utf8'));
  webhookName = `keylease-inject-${namespace}`;
  shipped.metadata.name = webhookName;
  const hook = shipped.webhooks[0];
  hook.clientConfig = { url: `https://127.0.0.1:${webhook.port}/mutate`, caBundle: readFileSync(ca.caFile).toString('base64') };
  hook.namespaceSelector = { ...hook.namespaceSelector, matchLabels: { 'kubernetes.io/metadata.name': namespace } };
  await api.ok('POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', shipped);
  // The API server picks up new webhook configurations asynchronously.
  await eventually('the API server calls the webhook', async () => {
    const probe = await api.call('POST', `${podsPath()}?dryRun=All`, validatorPod('probe', ANNOTATIONS, OPT_IN));
    return probe.status === 201 && probe.json.spec.containers[0].name === 'keylease-agent';
  }, 20_000);
}));

test.after(async () => {
  await api?.call('DELETE', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${webhookName}`);
  await webhook?.close();
  await cleanupDir?.();
  await cluster?.release();
});

test('the server reports 1.20, so the webhook must inject the regular-sidecar form', () => {
  assert.equal(serverVersion, { major: 1, minor: 20 });
});

test('an annotated pod comes back from the API server injected exactly as mutatePod intends', async () => {
  const sent = validatorPod('teku-0', ANNOTATIONS, OPT_IN);
  const created = await api.ok('POST', podsPath(), sent);
  const stored = await api.ok('GET', `${podsPath()}/teku-0`);
  const decision = mutatePod(sent, serverVersion, OPTIONS);
  assert.ok(decision.allowed && decision.form === 'sidecar-container');
  const intended = applyJsonPatch(sent, decision.patch);

  assertSubset(intended.spec, stored.spec, 'spec');
  assertSubset(intended.metadata!.annotations, stored.metadata.annotations, 'annotations');
  assert.equal(created.spec.containers.map((c: { name: string }) => c.name), ['keylease-agent', 'exporter', 'teku']);
  const agent = stored.spec.containers[0];
  assert.is(agent.restartPolicy, undefined);
  assert.is(agent.lifecycle.postStart.exec.command[0], 'node');
  assert.equal(stored.spec.containers[2].lifecycle.preStop.httpGet.path, '/prestop');
  assert.equal(stored.spec.containers[2].env, [{ name: 'KEYLEASE_SIGNER_URL', value: 'http://127.0.0.1:9000' }]);
  assert.ok(stored.spec.volumes.some((v: { name: string; emptyDir?: { medium?: string } }) => v.name === 'keylease-signer-state' && v.emptyDir?.medium === 'Memory'));
  const token = stored.spec.volumes.find((v: { name: string }) => v.name === 'keylease-token');
  assert.equal(token.projected.sources[0].serviceAccountToken, { audience: 'keylease', expirationSeconds: 600, path: 'token' });
  assert.ok(decisions.some((l) => l.includes('"msg":"injected agent"') && l.includes('"pod":"teku-0"')));
});

test('files mode: the client\'s liveness probe on the agent\'s health is stored as intended; a grace period too long for the lease is denied', async () => {
  const sent = validatorPod('teku-files', FILES, OPT_IN, { terminationGracePeriodSeconds: 5 });
  await api.ok('POST', podsPath(), sent);
  const stored = await api.ok('GET', `${podsPath()}/teku-files`);
  const decision = mutatePod(sent, serverVersion, OPTIONS);
  assert.ok(decision.allowed);
  assertSubset(applyJsonPatch(sent, decision.patch).spec, stored.spec, 'spec');
  const probe = stored.spec.containers[2].livenessProbe;
  assert.equal([probe.httpGet.path, probe.httpGet.port], ['/healthz', 7410]);
  assert.ok(stored.spec.containers[0].env.some((e: { name: string }) => e.name === 'KEYLEASE_FENCE_MARGIN_MS'));

  const tooLong = await api.call('POST', podsPath(), validatorPod('teku-files-slow', FILES, OPT_IN, { terminationGracePeriodSeconds: 60 }));
  assert.is(tooLong.status, 400);
  assert.match(tooLong.json.message, /keylease\.io\/mode files restarts the validator client when its agent fences.*set spec\.terminationGracePeriodSeconds to at most \d+/);
});

test('a malformed annotation is denied by the API server with the webhook\'s reason', async () => {
  const { status, json } = await api.call('POST', podsPath(), validatorPod('teku-bad', { ...ANNOTATIONS, 'keylease.io/keys': '-3' }, OPT_IN));
  assert.is(status, 400);
  assert.match(json.message, /admission webhook "inject\.keylease\.io" denied the request: keylease cannot inject its agent into pod .*teku-bad: keylease\.io\/keys is "-3"; it must be a whole number from 1 to 64/);
  assert.is((await api.call('GET', `${podsPath()}/teku-bad`)).status, 404, 'nothing stored');
});

test('the opt-in label without annotations is denied; annotations without the label never reach the webhook', async () => {
  const labelOnly = await api.call('POST', podsPath(), validatorPod('label-only', {}, OPT_IN));
  assert.is(labelOnly.status, 400);
  assert.match(labelOnly.json.message, /has the label keylease\.io\/inject: "true" but not the annotation/);

  const before = decisions.length;
  const unlabelled = await api.ok('POST', podsPath(), validatorPod('not-opted-in', ANNOTATIONS, {}));
  assert.equal(unlabelled.spec.containers.map((c: { name: string }) => c.name), ['exporter', 'teku']);
  assert.ok(!decisions.slice(before).some((l) => l.includes('not-opted-in')), 'the objectSelector kept the webhook out of it');
});

test('a pod that already has the agent is admitted unchanged (idempotent through the server)', async () => {
  const sent = validatorPod('teku-1', ANNOTATIONS, OPT_IN);
  const decision = mutatePod(sent, serverVersion, OPTIONS);
  assert.ok(decision.allowed);
  const alreadyInjected = applyJsonPatch(sent, decision.patch);
  alreadyInjected.metadata!.name = 'teku-1';
  const stored = await api.ok('POST', podsPath(), alreadyInjected);
  assert.equal(stored.spec.containers.map((c: { name: string }) => c.name), ['keylease-agent', 'exporter', 'teku']);
  assert.is(stored.spec.volumes.filter((v: { name: string }) => v.name === 'keylease-keys').length, 1);
});

test('a dry-run creation is injected too, and nothing is stored (sideEffects: None)', async () => {
  const dry = await api.ok('POST', `${podsPath()}?dryRun=All`, validatorPod('teku-dry', ANNOTATIONS, OPT_IN));
  assert.is(dry.spec.containers[0].name, 'keylease-agent');
  assert.is((await api.call('GET', `${podsPath()}/teku-dry`)).status, 404);
  assert.ok(decisions.some((l) => l.includes('"pod":"teku-dry"') && l.includes('"dryRun":true')));
});

test('why not the native form on 1.20: the server rejects it, and would drop restartPolicy anyway', async () => {
  const sent = validatorPod('native-form', ANNOTATIONS, {});
  const decision = mutatePod(sent, serverVersion, injectionOptions({ ...OPTIONS, nativeSidecars: 'always' }));
  assert.ok(decision.allowed && decision.form === 'native-sidecar');
  const nativeForm = applyJsonPatch(sent, decision.patch);
  assert.is(nativeForm.spec!.initContainers![0]!.restartPolicy, 'Always');
  // 1.20 sees a plain init container, and init containers may not have probes.
  const rejected = await api.call('POST', podsPath(), nativeForm);
  assert.is(rejected.status, 422);
  assert.match(rejected.json.message, /spec\.initContainers\[0\]\.(livenessProbe|readinessProbe|startupProbe): .*must not be set for init containers/);
  // Without the probes it is admitted, minus restartPolicy: an init container that never ends.
  const agent = nativeForm.spec!.initContainers![0]!;
  delete agent.livenessProbe;
  delete agent.readinessProbe;
  delete agent.startupProbe;
  const stored = await api.ok('POST', podsPath(), nativeForm);
  assert.is(stored.spec.initContainers[0].name, 'keylease-agent');
  assert.is(stored.spec.initContainers[0].restartPolicy, undefined);
});

test.run();
