/**
 * k8s/examples: every validator StatefulSet is injectable as annotated on both sidecar forms, and once
 * injected its client finds the agent the way that client does (the flags below, from each client's
 * documentation), with every $(VAR) in its args resolved as the kubelet resolves them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments } from 'yaml';
import { injectionOptions } from '../../coordinator/k8s/webhook/injection-options.js';
import { mutatePod } from '../../coordinator/k8s/webhook/mutate-pod.js';
import type { ContainerJson, PodJson } from '../../coordinator/k8s/webhook/pod-json.js';
import type { ServerVersion } from '../../coordinator/k8s/webhook/server-version.js';
import { applyJsonPatch } from '../k8s/support/apply-json-patch.js';

const EXAMPLES = fileURLToPath(new URL('../../k8s/examples/', import.meta.url));
const OPTIONS = injectionOptions({ agentImage: 'keylease', coordinatorEndpoints: 'keylease-coordinator.keylease.svc:7400' });
const VERSIONS: ServerVersion[] = [{ major: 1, minor: 20 }, { major: 1, minor: 31 }];

type K8sObject = { kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };
const objects: K8sObject[] = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => parseAllDocuments(readFileSync(join(EXAMPLES, f), 'utf8')).map((d) => d.toJSON() as K8sObject));
const statefulSets = objects.filter((o) => o.kind === 'StatefulSet');
const configMaps = new Map(objects.filter((o) => o.kind === 'ConfigMap').map((o) => [o.metadata.name, o.data ?? {}]));

type EnvFrom = Array<{ configMapRef?: { name: string } }>;
/** The container's variables as the kubelet sees them: envFrom first, env after (env wins). */
function variables(container: ContainerJson): Map<string, string> {
  const vars = new Map<string, string>();
  for (const source of (container['envFrom'] as EnvFrom | undefined) ?? []) {
    const data = configMaps.get(source.configMapRef!.name);
    assert.ok(data, `ConfigMap ${source.configMapRef!.name} is among the examples`);
    for (const [name, value] of Object.entries(data)) vars.set(name, value);
  }
  for (const e of container.env ?? []) if ('value' in e) vars.set(e.name, e.value);
  return vars;
}

/** Kubernetes' $(VAR) expansion in args: a defined variable is replaced, `$$` is a literal `$`, anything else stays. */
function expand(arg: string, vars: Map<string, string>, unresolved: string[]): string {
  return arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    const value = vars.get(name);
    if (value === undefined) unresolved.push(match);
    return value ?? match;
  });
}

/** How each client is pointed at the agent's signer (`url` is what the agent listens on). */
const SIGNER_FLAGS: Record<string, (url: string) => string[]> = {
  teku: (url) => [`--validators-external-signer-url=${url}`, '--validators-external-signer-public-keys=external-signer'],
  prysm: (url) => [`--validators-external-signer-url=${url}`, `--validators-external-signer-public-keys=${url}/api/v1/eth2/publicKeys`],
  nimbus: (url) => [`--web3-signer-url=${url}`],
  lodestar: (url) => [`--externalSigner.url=${url}`, '--externalSigner.fetch'],
  // Lighthouse reads the web3signer definitions the agent writes into its --out, which is its validators dir.
  lighthouse: () => ['--validators-dir=/keylease/keys'],
};

function injected(set: K8sObject, version: ServerVersion): { pod: PodJson; agent: ContainerJson; client: ContainerJson } {
  const template = set.spec.template as PodJson;
  const result = mutatePod(template, version, OPTIONS);
  if (!result.allowed) throw new Error(`${set.metadata.name} on ${version.major}.${version.minor}: ${result.message}`);
  const pod = applyJsonPatch(template, result.patch);
  const all = [...(pod.spec!.initContainers ?? []), ...pod.spec!.containers!];
  const clientName = template.metadata!.annotations!['keylease.io/container']!;
  return { pod, agent: all.find((c) => c.name === 'keylease-agent')!, client: all.find((c) => c.name === clientName)! };
}

const agentEnv = (agent: ContainerJson) => Object.fromEntries((agent.env ?? []).flatMap((e) => ('value' in e ? [[e.name, e.value]] : [])));

test('all five clients have a signer-mode example', () => {
  const signerClients = statefulSets
    .filter((s) => (s.spec.template.metadata.annotations['keylease.io/mode'] ?? 'signer') === 'signer')
    .map((s) => s.spec.template.metadata.annotations['keylease.io/container'] as string);
  assert.equal(signerClients.sort(), Object.keys(SIGNER_FLAGS).sort());
});

for (const set of statefulSets) {
  const annotations = set.spec.template.metadata.annotations as Record<string, string>;
  const mode = annotations['keylease.io/mode'] ?? 'signer';
  const clientName = annotations['keylease.io/container']!;

  test(`${set.metadata.name} (${mode} mode): injectable on both forms, every $(VAR) in its args resolved`, () => {
    for (const version of VERSIONS) {
      const { client } = injected(set, version);
      const unresolved: string[] = [];
      for (const arg of client.args ?? []) expand(arg, variables(client), unresolved);
      assert.equal(unresolved, [], `${set.metadata.name}: references nothing defines`);
    }
  });

  if (mode === 'signer') {
    test(`${set.metadata.name}: ${clientName} is pointed at the agent's signer in this pod`, () => {
      for (const version of VERSIONS) {
        const { agent, client } = injected(set, version);
        const vars = agentEnv(agent);
        const url = `http://${vars['KEYLEASE_SIGNER_LISTEN']}`;
        const args = (client.args ?? []).map((a) => expand(a, variables(client), []));
        for (const flag of SIGNER_FLAGS[clientName]!(url)) assert.ok(args.includes(flag), `${clientName} has ${flag}; args: ${args.join(' ')}`);
        if (clientName === 'lighthouse') {
          assert.is(vars['KEYLEASE_LAYOUT'], 'lighthouse', 'the agent writes validator_definitions.yml');
          assert.ok(args.includes(`--validators-dir=${vars['KEYLEASE_OUT']}`));
        } else {
          assert.is(vars['KEYLEASE_LAYOUT'], undefined, 'no file of any kind for the client');
        }
        assert.not.ok(args.some((a) => /keystore|secrets-dir|validator-keys|wallet/i.test(a)), 'the client is not told to look for keystores');
      }
    });
  } else {
    test(`${set.metadata.name}: the client is restarted when its agent fences, in time for the default lease`, () => {
      for (const version of VERSIONS) {
        const { agent, client } = injected(set, version);
        assert.is(client.livenessProbe?.httpGet.path, '/healthz');
        const margin = Number(agentEnv(agent)['KEYLEASE_FENCE_MARGIN_MS']);
        assert.ok(margin > 0 && margin <= OPTIONS.leaseTtlMs / 2);
      }
    });
  }
}

test.run();
