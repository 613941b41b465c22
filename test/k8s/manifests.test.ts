/**
 * k8s/: every kustomization renders (kubectl's built-in kustomize), says what the design needs, and the
 * rendered objects pass a server-side dry run on a real API server (admission, validation, RBAC
 * escalation checks), with stand-in CRDs for cert-manager and the Prometheus Operator.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments, stringify } from 'yaml';
import { COORDINATOR_COMMAND } from '../../coordinator/config.js';
import { PoolPolicy } from '../../coordinator/k8s/identity/pool-policy.js';
import { WEBHOOK_COMMAND } from '../../coordinator/k8s/webhook/command.js';
import { injectionOptions } from '../../coordinator/k8s/webhook/injection-options.js';
import { mutatePod } from '../../coordinator/k8s/webhook/mutate-pod.js';
import type { PodJson } from '../../coordinator/k8s/webhook/pod-json.js';
import { MUTATE_PATH } from '../../coordinator/k8s/webhook/server.js';
import { envName } from '../../shared/cli/flags.js';
import { tempDir } from '../support/temp-dir.js';
import { useCluster } from './support/cluster.js';
import { eventually } from './support/kube-objects.js';
import type { ClusterConnection } from './support/local-cluster.js';
import { RawApi } from './support/raw-api.js';
import { reported } from './support/reported.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const KUSTOMIZATIONS = ['k8s/base', 'k8s/overlays/dev', 'k8s/overlays/production', 'k8s/examples'] as const;
/**
 * Coordinator flags the manifests already set but `keylease coordinator` does not have yet (the lead wires
 * them with the Kubernetes identity). Remove each from here once COORDINATOR_COMMAND has it.
 */

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [field: string]: any };
const rendered = new Map<string, K8sObject[]>();

async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', join(root, dir)], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((d) => d.toJSON() as K8sObject);
}

const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered output`);
  return found;
};
const envOf = (container: { env?: Array<{ name: string; value?: string }> }) => Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));

let cluster: { connection: ClusterConnection; release(): Promise<void> };

/** The kustomizations use components, labels and replacements: kustomize v4.2+, i.e. kubectl 1.22+. */
async function assertKubectlKustomize(): Promise<void> {
  const { stdout } = await run('kubectl', ['version', '--client', '-o', 'json']).catch(() => ({ stdout: '{}' }));
  const [major, minor] = (/^v(\d+)\.(\d+)/.exec((JSON.parse(stdout) as { kustomizeVersion?: string }).kustomizeVersion ?? '') ?? []).slice(1).map(Number);
  if (!(major! > 4 || (major === 4 && minor! >= 2))) {
    throw new Error('these tests need kubectl 1.22 or newer on the PATH (its built-in kustomize v4.2+); Debian\'s kubernetes-client 1.20 is too old');
  }
}

test.before(reported(async () => {
  await assertKubectlKustomize();
  for (const dir of KUSTOMIZATIONS) rendered.set(dir, await kustomize(dir));
  cluster = await useCluster();
}));

test.after(async () => {
  await cluster?.release();
});

test('every kustomization renders', () => {
  for (const dir of KUSTOMIZATIONS) assert.ok(rendered.get(dir)!.length > 0, dir);
});

test('coordinator: 3 Raft replicas started together, spread over nodes, peers by headless-Service DNS, ready on /readyz', () => {
  for (const dir of ['k8s/base', 'k8s/overlays/production']) {
    const objects = rendered.get(dir)!;
    const set = find(objects, 'StatefulSet', 'keylease-coordinator');
    assert.is(set.spec.replicas, 3);
    assert.is(set.spec.podManagementPolicy, 'Parallel');
    assert.is(set.spec.serviceName, 'keylease-peers');
    const pod = set.spec.template.spec;
    assert.is(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey, 'kubernetes.io/hostname');
    assert.ok(pod.terminationGracePeriodSeconds >= 30, 'time to hand leadership over');
    const container = pod.containers[0];
    assert.is(container.readinessProbe.httpGet.path, '/readyz');
    const peers = envOf(container)['ALL_PEERS']!.split(',');
    assert.equal(peers, [0, 1, 2].map((n) => `keylease-coordinator-${n}=keylease-coordinator-${n}.keylease-peers.keylease.svc:7402`));
    assert.ok(set.spec.volumeClaimTemplates.length === 1);
    const peersService = find(objects, 'Service', 'keylease-peers');
    assert.is(peersService.spec.clusterIP, 'None');
    assert.is(peersService.spec.publishNotReadyAddresses, true);
    assert.is(find(objects, 'PodDisruptionBudget', 'keylease-coordinator').spec.maxUnavailable, 1);
    const known = new Set(COORDINATOR_COMMAND.flags.map((f) => f.name).map(envName));
    for (const name of Object.keys(envOf(container)).filter((n) => n.startsWith('KEYLEASE_'))) assert.ok(known.has(name), `${name} is no coordinator flag`);
  }
});

test('the mnemonic: absent from the base (an import-only pool), required where the derived-keys component adds it', () => {
  const base = find(rendered.get('k8s/base')!, 'StatefulSet', 'keylease-coordinator').spec.template.spec;
  assert.not.ok('KEYLEASE_MNEMONIC_FILE' in envOf(base.containers[0]), 'the base would ask for a mnemonic file');
  assert.not.ok(base.volumes.some((v: { name: string }) => v.name === 'mnemonic'));
  for (const dir of ['k8s/overlays/dev', 'k8s/overlays/production']) {
    const pod = find(rendered.get(dir)!, 'StatefulSet', 'keylease-coordinator').spec.template.spec;
    const volume = pod.volumes.find((v: { name: string }) => v.name === 'mnemonic');
    assert.is(volume.secret.secretName, 'keylease-mnemonic', dir);
    assert.not.ok(volume.secret.optional, `${dir}: a missing mnemonic Secret must stop the pod, not make it import-only`);
    const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === 'mnemonic');
    assert.is(`${mount.mountPath}/mnemonic`, envOf(pod.containers[0])['KEYLEASE_MNEMONIC_FILE'], dir);
  }
});

test('RBAC is least privilege: TokenReview create, and pod get/list/watch in the validator namespace; nothing else', () => {
  const objects = rendered.get('k8s/overlays/production')!;
  const roles = objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole');
  const grants = roles.flatMap((r) => r['rules'].map((rule: { apiGroups: string[]; resources: string[]; verbs: string[] }) => `${r.kind}/${r.metadata.namespace ?? '-'}: ${rule.apiGroups.join()}/${rule.resources.join()} ${[...rule.verbs].sort().join()}`));
  assert.equal(grants.sort(), ['ClusterRole/-: authentication.k8s.io/tokenreviews create', 'Role/validators: /pods get,list,watch']);
  const subjects = objects.filter((o) => o.kind.endsWith('Binding')).flatMap((b) => b['subjects'].map((s: { name: string; namespace: string }) => `${s.namespace}/${s.name}`));
  assert.equal([...new Set(subjects)], ['keylease/keylease-coordinator']);
});

test('webhook: only opted-in pods, never its own namespace, Fail with a reason, served where the Service points', () => {
  for (const dir of ['k8s/overlays/dev', 'k8s/overlays/production']) {
    const objects = rendered.get(dir)!;
    const config = find(objects, 'MutatingWebhookConfiguration', 'keylease-inject');
    const hook = config['webhooks'][0];
    assert.equal(hook.objectSelector, { matchLabels: { 'keylease.io/inject': 'true' } });
    assert.ok(hook.namespaceSelector.matchExpressions[0].values.includes('keylease'));
    assert.is(hook.failurePolicy, 'Fail');
    assert.is(hook.sideEffects, 'None');
    assert.equal(hook.admissionReviewVersions, ['v1']);
    assert.equal(hook.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    assert.is(hook.clientConfig.service.path, MUTATE_PATH);
    const service = find(objects, 'Service', hook.clientConfig.service.name);
    assert.is(service.spec.ports[0].port, hook.clientConfig.service.port);
    const deployment = find(objects, 'Deployment', 'keylease-webhook');
    const container = deployment.spec.template.spec.containers[0];
    assert.ok(container.ports.some((p: { name: string }) => p.name === service.spec.ports[0].targetPort));
    const env = envOf(container);
    assert.is(env['KEYLEASE_AGENT_IMAGE'], container.image, 'the agent runs the same image as the webhook');
    const known = new Set(WEBHOOK_COMMAND.flags.map((f) => envName(f.name)));
    for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is no webhook flag`);
    assert.ok(deployment.spec.replicas >= 1);
  }
  const production = find(rendered.get('k8s/overlays/production')!, 'MutatingWebhookConfiguration', 'keylease-inject');
  assert.is(production.metadata.annotations!['cert-manager.io/inject-ca-from'], 'keylease/keylease-webhook');
  find(rendered.get('k8s/overlays/production')!, 'ServiceMonitor', 'keylease-coordinator');
  find(rendered.get('k8s/overlays/production')!, 'PrometheusRule', 'keylease');
  // The agents are scraped on the port the webhook gives them, in the pods it injects.
  const agents = find(rendered.get('k8s/overlays/production')!, 'PodMonitor', 'keylease-agents');
  assert.is(agents.spec.podMetricsEndpoints[0].port, 'keylease-health');
  assert.is(agents.spec.selector.matchLabels['keylease.io/inject'], 'true');
  // With TLS the coordinator's HTTP port is HTTPS: probes and scraping must say so.
  const tlsCoordinator = find(rendered.get('k8s/overlays/production')!, 'StatefulSet', 'keylease-coordinator').spec.template.spec.containers[0];
  assert.ok(envOf(tlsCoordinator)['KEYLEASE_TLS_CERT_FILE'], 'production coordinators have TLS');
  for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) assert.is(tlsCoordinator[probe].httpGet.scheme, 'HTTPS', `${probe} over HTTPS`);
  assert.is(find(rendered.get('k8s/overlays/production')!, 'ServiceMonitor', 'keylease-coordinator').spec.endpoints[0].scheme, 'https');
  const plainCoordinator = find(rendered.get('k8s/overlays/dev')!, 'StatefulSet', 'keylease-coordinator').spec.template.spec.containers[0];
  assert.is(envOf(plainCoordinator)['KEYLEASE_TLS_CERT_FILE'], undefined);
  assert.is(plainCoordinator.readinessProbe.httpGet.scheme, undefined, 'without TLS the probes stay HTTP');
});

test('production: the Grafana dashboard is a ConfigMap with the label Grafana\'s dashboard sidecar loads', () => {
  const configMap = find(rendered.get('k8s/overlays/production')!, 'ConfigMap', 'keylease-grafana-dashboard');
  assert.is((configMap.metadata as { labels?: Record<string, string> }).labels?.['grafana_dashboard'], '1');
  assert.is(configMap.metadata.namespace, 'keylease');
  assert.equal(JSON.parse(configMap['data']['keylease.json']), JSON.parse(readFileSync(join(root, 'k8s/components/monitoring/grafana-dashboard.json'), 'utf8')));
});

test('examples: a signer-mode StatefulSet per client (and one in files mode), each injectable as annotated with the webhook\'s lease TTL, on both sidecar forms, and granted by the pool policy', () => {
  const examples = rendered.get('k8s/examples')!.filter((o) => o.kind === 'StatefulSet');
  const policy = PoolPolicy.parse(find(rendered.get('k8s/base')!, 'ConfigMap', 'keylease-pool-policy')['data']['pools.yaml'], 'keylease-pool-policy');
  const webhookEnv = envOf(find(rendered.get('k8s/base')!, 'Deployment', 'keylease-webhook').spec.template.spec.containers[0]);
  const options = injectionOptions({ agentImage: 'keylease', coordinatorEndpoints: 'keylease-coordinator.keylease.svc:7400', leaseTtlMs: Number(webhookEnv['KEYLEASE_LEASE_TTL_MS']) });
  const signerClients: string[] = [];
  for (const set of examples) {
    const template = set.spec.template as PodJson & { spec: { serviceAccountName: string } };
    const annotations = template.metadata!.annotations!;
    const mode = annotations['keylease.io/mode'] ?? 'signer';
    if (mode === 'signer') signerClients.push(annotations['keylease.io/container']!);
    assert.is(template.metadata!.labels!['keylease.io/inject'], 'true', `${set.metadata.name} carries the opt-in label`);
    for (const version of [{ major: 1, minor: 20 }, { major: 1, minor: 31 }]) {
      const result = mutatePod(template, version, options);
      assert.ok(result.allowed && result.patch.length > 0, `${set.metadata.name}: ${result.allowed ? 'no patch' : result.message}`);
    }
    const validator = template.spec!.containers!.find((c) => c.name === annotations['keylease.io/container'])!;
    // Lighthouse reads the agent's web3signer definitions from the volume; the others ask the signer.
    const findsKeys = validator.args!.some((a) => (mode === 'signer' && annotations['keylease.io/layout'] === undefined ? a.includes('$(KEYLEASE_SIGNER_URL)') : a.includes('/keylease/keys')));
    assert.ok(findsKeys, `${set.metadata.name} finds its keys where the agent serves them`);
    assert.ok(policy.allows({ namespace: set.metadata.namespace!, serviceAccount: template.spec.serviceAccountName }, annotations['keylease.io/pool']!), `${set.metadata.name} may claim`);
  }
  assert.equal(signerClients.sort(), ['lighthouse', 'lodestar', 'nimbus', 'prysm', 'teku']);
});

test('the webhook checks fence margins against the coordinators\' own lease TTL', () => {
  for (const dir of ['k8s/base', 'k8s/overlays/dev', 'k8s/overlays/production']) {
    const objects = rendered.get(dir)!;
    const coordinator = envOf(find(objects, 'StatefulSet', 'keylease-coordinator').spec.template.spec.containers[0]);
    const webhook = envOf(find(objects, 'Deployment', 'keylease-webhook').spec.template.spec.containers[0]);
    assert.ok(coordinator['KEYLEASE_LEASE_TTL_MS'], `${dir}: the coordinators' TTL is explicit`);
    assert.is(webhook['KEYLEASE_LEASE_TTL_MS'], coordinator['KEYLEASE_LEASE_TTL_MS'], dir);
  }
});

const STAND_IN_CRDS = [
  { group: 'monitoring.coreos.com', kind: 'ServiceMonitor', plural: 'servicemonitors' },
  { group: 'monitoring.coreos.com', kind: 'PrometheusRule', plural: 'prometheusrules' },
  { group: 'monitoring.coreos.com', kind: 'PodMonitor', plural: 'podmonitors' },
  { group: 'cert-manager.io', kind: 'Certificate', plural: 'certificates' },
  { group: 'cert-manager.io', kind: 'Issuer', plural: 'issuers' },
];

/** A CRD that accepts any spec: enough for the dry run to check the object's envelope and namespace. */
const standInCrd = (crd: (typeof STAND_IN_CRDS)[number]) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${crd.plural}.${crd.group}` },
  spec: {
    group: crd.group,
    scope: 'Namespaced',
    names: { kind: crd.kind, plural: crd.plural, singular: crd.kind.toLowerCase(), listKind: `${crd.kind}List` },
    versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
  },
});

test('every rendering passes a server-side dry run', async () => {
  const api = new RawApi(cluster.connection);
  for (const crd of STAND_IN_CRDS) {
    const { status } = await api.call('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', standInCrd(crd));
    assert.ok(status === 201 || status === 409, `CRD ${crd.kind}: HTTP ${status}`);
  }
  for (const crd of STAND_IN_CRDS) {
    await eventually(`${crd.kind} is served`, async () => (await api.call('GET', `/apis/${crd.group}/v1/${crd.plural}`)).status === 200, 20_000);
  }
  // Namespaced objects are dry-run into namespaces that must exist.
  for (const name of ['keylease', 'validators']) {
    const { status } = await api.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    assert.ok(status === 201 || status === 409);
  }
  const dir = await tempDir('manifests');
  const kubeconfig = cluster.connection.kubeconfigFile;
  try {
    for (const [name, objects] of rendered) {
      // PodDisruptionBudget is policy/v1 from 1.21; 1.20 serves policy/v1beta1 only (same fields).
      const forServer = objects.map((o) => (o.kind === 'PodDisruptionBudget' ? { ...o, apiVersion: 'policy/v1beta1' } : o));
      const file = join(dir.path, `${name.replace(/\//g, '-')}.yaml`);
      writeFileSync(file, forServer.map((o) => stringify(o)).join('---\n'));
      const result = await run('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--dry-run=server', '-f', file], { maxBuffer: 16 * 1024 * 1024 }).then(
        ({ stdout }) => ({ ok: true, output: stdout }),
        (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
      );
      assert.ok(result.ok, `${name}:\n${result.output}`);
      const lines = result.output.trim().split('\n');
      assert.is(lines.length, objects.length, `${name}: every object was dry-run:\n${result.output}`);
      assert.ok(lines.every((l) => /\(server dry run\)$/.test(l)), result.output);
    }
  } finally {
    await dir.cleanup();
  }
});

test.run();
