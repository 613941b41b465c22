import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mutatePod, type MutationResult } from '../../coordinator/k8s/webhook/mutate-pod.js';
import { injectionOptions, type InjectionOptions } from '../../coordinator/k8s/webhook/injection-options.js';
import type { ContainerJson, PodJson } from '../../coordinator/k8s/webhook/pod-json.js';
import type { ServerVersion } from '../../coordinator/k8s/webhook/server-version.js';
import { applyJsonPatch } from '../k8s/support/apply-json-patch.js';

const V1_20: ServerVersion = { major: 1, minor: 20 };
const V1_29: ServerVersion = { major: 1, minor: 29 };
const OPTIONS = injectionOptions({ agentImage: 'registry.example/keylease:0.1.0', coordinatorEndpoints: 'keylease-coordinator.keylease.svc:7400' });

function pod(annotations: Record<string, string> | undefined, spec: Partial<NonNullable<PodJson['spec']>> = {}, labels?: Record<string, string>): PodJson {
  return {
    metadata: { name: 'validator-0', namespace: 'validators', ...(annotations ? { annotations } : {}), ...(labels ? { labels } : {}) },
    spec: { containers: [{ name: 'lighthouse', image: 'sigp/lighthouse:v5.3.0', args: ['lighthouse', 'vc'] }], ...spec },
  };
}

const ANNOTATED = { 'keylease.io/inject': 'true', 'keylease.io/keys': '4', 'keylease.io/pool': 'mainnet', 'keylease.io/layout': 'lighthouse' };

function injected(input: PodJson, version: ServerVersion, options: InjectionOptions = OPTIONS): PodJson {
  const result = mutatePod(input, version, options);
  if (!result.allowed) throw new Error(`denied: ${result.message}`);
  assert.ok(result.patch.length > 0, 'a patch');
  return applyJsonPatch(input, result.patch);
}

function denial(result: MutationResult): string {
  if (result.allowed) throw new Error('expected a denial, got allowed');
  return result.message;
}

const env = (c: ContainerJson) => Object.fromEntries((c.env ?? []).map((e) => [e.name, 'value' in e ? e.value : `fieldRef:${e.valueFrom.fieldRef.fieldPath}`]));

test('a pod without the annotation, or with inject "false", is left untouched', () => {
  for (const input of [pod(undefined), pod({ 'keylease.io/inject': 'false', 'keylease.io/keys': 'garbage' }), pod({ unrelated: 'x' })]) {
    assert.equal(mutatePod(input, V1_20, OPTIONS), { allowed: true, patch: [] });
    assert.equal(mutatePod(input, V1_29, OPTIONS), { allowed: true, patch: [] });
  }
});

test('1.20: the agent is the first regular container, and the validator starts only once the agent is ready', () => {
  const out = injected(pod(ANNOTATED), V1_20);
  const [agent, validator] = out.spec!.containers!;
  assert.is(out.spec!.containers!.length, 2);
  assert.is(out.spec!.initContainers, undefined);
  assert.is(agent!.name, 'keylease-agent');
  assert.is(agent!.image, 'registry.example/keylease:0.1.0');
  assert.equal(agent!.args, ['agent']);
  assert.is(agent!.restartPolicy, undefined, 'no native-sidecar field on 1.20');
  assert.is(agent!.startupProbe, undefined);
  const postStart = agent!.lifecycle?.postStart;
  assert.ok(postStart && 'exec' in postStart, 'a postStart exec guard');
  assert.is(postStart.exec.command[0], 'node', 'the guard runs in the agent image, which has node');
  assert.match(postStart.exec.command.join(' '), /\/readyz/);
  assert.is(validator!.name, 'lighthouse');
  assert.equal(out.metadata!.annotations!['keylease.io/injected'], 'sidecar-container');
  assert.equal(out.metadata!.annotations!['kubectl.kubernetes.io/default-container'], 'lighthouse');
});

test('1.29: the agent is a native sidecar (an init container with restartPolicy Always) with a startup probe', () => {
  const out = injected(pod(ANNOTATED, { initContainers: [{ name: 'setup', image: 'busybox' }] }), V1_29);
  assert.is(out.spec!.containers!.length, 1, 'no regular container added');
  const [agent, setup] = out.spec!.initContainers!;
  assert.is(agent!.name, 'keylease-agent');
  assert.is(setup!.name, 'setup', 'existing init containers run after the agent');
  assert.is(agent!.restartPolicy, 'Always');
  assert.equal(agent!.startupProbe?.httpGet.path, '/readyz');
  assert.is(agent!.lifecycle, undefined, 'no postStart guard: the startup probe orders the start');
  assert.equal(out.metadata!.annotations!['keylease.io/injected'], 'native-sidecar');
  assert.is(out.metadata!.annotations!['kubectl.kubernetes.io/default-container'], undefined);
});

test('managed clusters report minor "29+"; 2.x counts as newer', () => {
  assert.is(injected(pod(ANNOTATED), { major: 1, minor: 30 }).spec!.initContainers![0]!.restartPolicy, 'Always');
  assert.is(injected(pod(ANNOTATED), { major: 2, minor: 0 }).spec!.initContainers![0]!.restartPolicy, 'Always');
  assert.is(injected(pod(ANNOTATED), { major: 1, minor: 28 }).spec!.containers![0]!.name, 'keylease-agent');
});

test('nativeSidecars "never" and "always" override the version', () => {
  const never = injectionOptions({ ...OPTIONS, nativeSidecars: 'never' });
  const always = injectionOptions({ ...OPTIONS, nativeSidecars: 'always' });
  assert.is(injected(pod(ANNOTATED), V1_29, never).spec!.containers![0]!.name, 'keylease-agent');
  assert.is(injected(pod(ANNOTATED), V1_20, always).spec!.initContainers![0]!.restartPolicy, 'Always');
});

for (const [label, version] of [['1.20', V1_20], ['1.29', V1_29]] as const) {
  test(`${label}: volumes, mounts, token, downward API, preStop and resources`, () => {
    const out = injected(pod(ANNOTATED), version);
    const agent = [...(out.spec!.initContainers ?? []), ...out.spec!.containers!].find((c) => c.name === 'keylease-agent')!;
    const validator = out.spec!.containers!.find((c) => c.name === 'lighthouse')!;
    const volumes = Object.fromEntries(out.spec!.volumes!.map((v) => [v.name, v]));
    assert.equal(volumes['keylease-keys'], { name: 'keylease-keys', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } });
    assert.equal(volumes['keylease-token'], {
      name: 'keylease-token',
      projected: { sources: [{ serviceAccountToken: { audience: 'keylease', expirationSeconds: 600, path: 'token' } }] },
    });
    assert.equal(validator.volumeMounts, [{ name: 'keylease-keys', mountPath: '/keylease/keys' }]);
    assert.equal(agent.volumeMounts!.map((m) => [m.name, m.mountPath]), [
      ['keylease-keys', '/keylease/keys'],
      ['keylease-token', '/var/run/secrets/keylease.io/serviceaccount'],
      ['keylease-agent-tmp', '/tmp'],
    ]);
    assert.equal(env(agent), {
      KEYLEASE_COORDINATOR: 'keylease-coordinator.keylease.svc:7400',
      KEYLEASE_POD_NAME: 'fieldRef:metadata.name',
      KEYLEASE_POD_UID: 'fieldRef:metadata.uid',
      KEYLEASE_POD_NAMESPACE: 'fieldRef:metadata.namespace',
      KEYLEASE_POOL: 'mainnet',
      KEYLEASE_KEYS: '4',
      KEYLEASE_HEALTH_LISTEN: '0.0.0.0:7410',
      KEYLEASE_TOKEN_FILE: '/var/run/secrets/keylease.io/serviceaccount/token',
      NODE_OPTIONS: '--max-semi-space-size=1',
      KEYLEASE_LAYOUT: 'lighthouse',
      KEYLEASE_OUT: '/keylease/keys',
    });
    assert.equal(validator.lifecycle, {
      preStop: { httpGet: { path: '/prestop', port: 7410, scheme: 'HTTP', httpHeaders: [{ name: 'X-Keylease-Hook', value: 'prestop' }] } },
    });
    assert.equal(agent.resources, { requests: { cpu: '25m', memory: '96Mi' }, limits: { memory: '384Mi' } });
    assert.equal(agent.readinessProbe?.httpGet.path, '/readyz');
    assert.equal(agent.livenessProbe?.httpGet.path, '/healthz');
    assert.equal(agent.securityContext, { runAsNonRoot: true, runAsUser: 10001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  test(`${label}: injecting twice changes nothing (idempotent)`, () => {
    const once = injected(pod(ANNOTATED), version);
    assert.equal(mutatePod(once, version, OPTIONS), { allowed: true, patch: [] });
    // Even across forms: a pod injected before an upgrade is not injected again.
    assert.equal(mutatePod(once, version === V1_20 ? V1_29 : V1_20, OPTIONS), { allowed: true, patch: [] });
  });
}

test('keylease.io/container picks the validator container; the preStop lands on it although the agent shifts the indices', () => {
  const input = pod({ ...ANNOTATED, 'keylease.io/container': 'teku' }, {
    containers: [
      { name: 'exporter', image: 'exporter' },
      { name: 'teku', image: 'consensys/teku', volumeMounts: [{ name: 'data', mountPath: '/data' }], lifecycle: { postStart: { exec: { command: ['true'] } } } },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
  });
  const out = injected(input, V1_20);
  assert.equal(out.spec!.containers!.map((c) => c.name), ['keylease-agent', 'exporter', 'teku']);
  const teku = out.spec!.containers![2]!;
  assert.ok(teku.lifecycle?.preStop && 'httpGet' in teku.lifecycle.preStop);
  assert.ok(teku.lifecycle.postStart, 'its own postStart is kept');
  assert.equal(teku.volumeMounts!.map((m) => m.name), ['data', 'keylease-keys']);
  assert.is(out.spec!.containers![1]!.lifecycle, undefined, 'the other container is untouched');
  assert.equal(out.spec!.volumes!.map((v) => v.name), ['data', 'keylease-keys', 'keylease-token', 'keylease-agent-tmp']);
  assert.is(out.metadata!.annotations!['kubectl.kubernetes.io/default-container'], 'teku');
});

test('an existing default-container annotation is kept', () => {
  const out = injected(pod({ ...ANNOTATED, 'kubectl.kubernetes.io/default-container': 'other' }), V1_20);
  assert.is(out.metadata!.annotations!['kubectl.kubernetes.io/default-container'], 'other');
});

test('with the Keymanager API the client is not held back (it must be up for the import), and the token file is shared', () => {
  for (const version of [V1_20, V1_29]) {
    const out = injected(pod({ 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet', 'keylease.io/keymanager-url': 'http://127.0.0.1:5062' }), version);
    const agent = [...(out.spec!.initContainers ?? []), ...out.spec!.containers!].find((c) => c.name === 'keylease-agent')!;
    assert.is(agent.startupProbe, undefined);
    assert.is(agent.lifecycle, undefined);
    const vars = env(agent);
    assert.is(vars['KEYLEASE_KEYMANAGER_URL'], 'http://127.0.0.1:5062');
    assert.is(vars['KEYLEASE_KEYMANAGER_TOKEN_FILE'], '/keylease/keys/api-token.txt');
    assert.is(vars['KEYLEASE_LAYOUT'], undefined, 'no layout asked for, none given');
  }
});

test('the agent runs as the validator client\'s user, so it can read the 0600 key files', () => {
  const podLevel = injected(pod(ANNOTATED, { securityContext: { runAsUser: 1000, runAsGroup: 1001 } }), V1_20);
  assert.equal(podLevel.spec!.containers![0]!.securityContext?.runAsUser, 1000);
  assert.equal(podLevel.spec!.containers![0]!.securityContext?.runAsGroup, 1001);
  const containerLevel = injected(pod(ANNOTATED, { securityContext: { runAsUser: 1000 }, containers: [{ name: 'v', securityContext: { runAsUser: 2000 } }] }), V1_20);
  assert.equal(containerLevel.spec!.containers![0]!.securityContext?.runAsUser, 2000);
  // A root client reads anything; the agent still does not run as root.
  const root = injected(pod(ANNOTATED, { securityContext: { runAsUser: 0, runAsGroup: 0 } }), V1_20);
  assert.equal(root.spec!.containers![0]!.securityContext?.runAsUser, 10001);
  assert.is(root.spec!.containers![0]!.securityContext?.runAsGroup, undefined);
});

test('a coordinator CA ConfigMap is mounted and passed as --tls-ca-file', () => {
  const out = injected(pod(ANNOTATED), V1_20, injectionOptions({ ...OPTIONS, coordinatorCaConfigMap: 'keylease-ca' }));
  const agent = out.spec!.containers![0]!;
  assert.is(env(agent)['KEYLEASE_TLS_CA_FILE'], '/etc/keylease/coordinator-ca/ca.crt');
  assert.ok(agent.volumeMounts!.some((m) => m.name === 'keylease-coordinator-ca' && m.readOnly));
  assert.ok(out.spec!.volumes!.some((v) => v.name === 'keylease-coordinator-ca' && (v as { configMap?: { name: string } }).configMap?.name === 'keylease-ca'));
});

test('an https Keymanager API with its own certificate: the CA Secret is mounted into the agent and passed as --keymanager-ca-file', () => {
  const annotations = { 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet', 'keylease.io/keymanager-url': 'https://127.0.0.1:5052', 'keylease.io/keymanager-ca-secret': 'teku-api-cert' };
  for (const version of [V1_20, V1_29]) {
    const out = injected(pod(annotations), version);
    const agent = [...(out.spec!.initContainers ?? []), ...out.spec!.containers!].find((c) => c.name === 'keylease-agent')!;
    assert.is(env(agent)['KEYLEASE_KEYMANAGER_CA_FILE'], '/etc/keylease/keymanager-ca/ca.crt');
    assert.ok(agent.volumeMounts!.some((m) => m.name === 'keylease-keymanager-ca' && m.mountPath === '/etc/keylease/keymanager-ca' && m.readOnly));
    const volume = out.spec!.volumes!.find((v) => v.name === 'keylease-keymanager-ca') as { secret?: { secretName: string; items: Array<{ key: string }> } } | undefined;
    assert.is(volume?.secret?.secretName, 'teku-api-cert');
    assert.equal(volume?.secret?.items.map((i) => i.key), ['ca.crt']);
    const validator = out.spec!.containers!.find((c) => c.name === 'lighthouse')!;
    assert.not.ok((validator.volumeMounts ?? []).some((m) => m.name === 'keylease-keymanager-ca'), 'only the agent mounts it');
  }
  // Without the annotation, no such volume.
  assert.not.ok(injected(pod(ANNOTATED), V1_20).spec!.volumes!.some((v) => v.name === 'keylease-keymanager-ca'));
});

const MALFORMED: Array<[string, Record<string, string>, RegExp]> = [
  ['negative key count', { ...ANNOTATED, 'keylease.io/keys': '-3' }, /keylease\.io\/keys is "-3"; it must be a whole number from 1 to 64/],
  ['zero keys', { ...ANNOTATED, 'keylease.io/keys': '0' }, /keylease\.io\/keys is "0"; it must be a whole number from 1 to 64/],
  ['too many keys', { ...ANNOTATED, 'keylease.io/keys': '65' }, /keylease\.io\/keys is "65"; it must be a whole number from 1 to 64/],
  ['fractional keys', { ...ANNOTATED, 'keylease.io/keys': '2.5' }, /keylease\.io\/keys is "2\.5"/],
  ['keys with a sign', { ...ANNOTATED, 'keylease.io/keys': '+2' }, /keylease\.io\/keys is "\+2"/],
  ['keys not a number', { ...ANNOTATED, 'keylease.io/keys': 'four' }, /keylease\.io\/keys is "four"/],
  ['keys missing', { 'keylease.io/inject': 'true', 'keylease.io/pool': 'mainnet', 'keylease.io/layout': 'teku' }, /keylease\.io\/keys is missing/],
  ['pool missing', { 'keylease.io/inject': 'true', 'keylease.io/keys': '1', 'keylease.io/layout': 'teku' }, /keylease\.io\/pool is missing/],
  ['pool not a DNS label', { ...ANNOTATED, 'keylease.io/pool': 'Main_Net' }, /keylease\.io\/pool: pool name "Main_Net" is not a DNS-1123 label/],
  ['layout missing', { 'keylease.io/inject': 'true', 'keylease.io/keys': '1', 'keylease.io/pool': 'mainnet' }, /keylease\.io\/layout is missing.*lighthouse, teku, nimbus, lodestar, prysm, web3signer, plain/],
  ['unknown layout', { ...ANNOTATED, 'keylease.io/layout': 'geth' }, /keylease\.io\/layout is "geth"; use one of lighthouse/],
  ['keymanager URL not a URL', { ...ANNOTATED, 'keylease.io/keymanager-url': 'localhost 5062' }, /keylease\.io\/keymanager-url "localhost 5062" is not a URL/],
  ['keymanager URL not http', { ...ANNOTATED, 'keylease.io/keymanager-url': 'ftp://127.0.0.1:5062' }, /keylease\.io\/keymanager-url must be http:\/\/ or https:\/\/, not ftp:/],
  ['CA Secret for a plain-http Keymanager API', { ...ANNOTATED, 'keylease.io/keymanager-url': 'http://127.0.0.1:5062', 'keylease.io/keymanager-ca-secret': 'x' }, /keylease\.io\/keymanager-ca-secret is for an https:\/\/ keylease\.io\/keymanager-url; this one is plain http/],
  ['CA Secret without a Keymanager API', { ...ANNOTATED, 'keylease.io/keymanager-ca-secret': 'x' }, /keylease\.io\/keymanager-ca-secret is for an https:\/\/ keylease\.io\/keymanager-url; there is none/],
  ['CA Secret name malformed', { ...ANNOTATED, 'keylease.io/keymanager-url': 'https://127.0.0.1:5052', 'keylease.io/keymanager-ca-secret': 'Teku_Cert' }, /keylease\.io\/keymanager-ca-secret "Teku_Cert" is not a Secret name/],
  ['container that does not exist', { ...ANNOTATED, 'keylease.io/container': 'prysm' }, /keylease\.io\/container names "prysm", but the pod's containers are lighthouse/],
  ['inject neither true nor false', { ...ANNOTATED, 'keylease.io/inject': 'yes' }, /keylease\.io\/inject is "yes"; it must be "true" or "false"/],
  ['misspelt annotation', { ...ANNOTATED, 'keylease.io/key': '4' }, /unknown annotation keylease\.io\/key;/],
];

for (const [what, annotations, expected] of MALFORMED) {
  test(`denied, saying why: ${what}`, () => {
    for (const version of [V1_20, V1_29]) {
      const message = denial(mutatePod(pod(annotations), version, OPTIONS));
      assert.match(message, expected);
      assert.match(message, /^keylease cannot inject its agent into pod validators\/validator-0: /);
    }
  });
}

test('every problem is reported at once', () => {
  const message = denial(mutatePod(pod({ 'keylease.io/inject': 'true', 'keylease.io/keys': '-3', 'keylease.io/layout': 'geth' }), V1_20, OPTIONS));
  assert.match(message, /keylease\.io\/keys is "-3"/);
  assert.match(message, /keylease\.io\/pool is missing/);
  assert.match(message, /keylease\.io\/layout is "geth"/);
});

test('the most keys per pod is an option', () => {
  const options = injectionOptions({ ...OPTIONS, maxKeysPerPod: 500 });
  assert.ok(mutatePod(pod({ ...ANNOTATED, 'keylease.io/keys': '500' }), V1_20, options).allowed);
  assert.match(denial(mutatePod(pod({ ...ANNOTATED, 'keylease.io/keys': '501' }), V1_20, options)), /from 1 to 500/);
});

test('the opt-in label without the annotations is denied: the operator meant to inject', () => {
  assert.match(denial(mutatePod(pod(undefined, {}, { 'keylease.io/inject': 'true' }), V1_20, OPTIONS)), /has the label keylease\.io\/inject: "true" but not the annotation/);
});

test('denied when the pod already uses what injection adds', () => {
  assert.match(
    denial(mutatePod(pod(ANNOTATED, { containers: [{ name: 'lighthouse', lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } } }] }), V1_20, OPTIONS)),
    /container lighthouse already has a preStop hook/,
  );
  assert.match(denial(mutatePod(pod(ANNOTATED, { volumes: [{ name: 'keylease-keys', emptyDir: {} }] }), V1_20, OPTIONS)), /already has a volume named keylease-keys/);
  assert.match(
    denial(mutatePod(pod(ANNOTATED, { containers: [{ name: 'lighthouse', volumeMounts: [{ name: 'x', mountPath: '/keylease/keys' }] }] }), V1_29, OPTIONS)),
    /already mounts something at \/keylease\/keys/,
  );
  assert.match(denial(mutatePod(pod(ANNOTATED, { containers: [] }), V1_20, OPTIONS)), /has no containers/);
});

test('a pod made from generateName is named by its prefix in messages', () => {
  const input: PodJson = { metadata: { generateName: 'teku-', annotations: { ...ANNOTATED, 'keylease.io/keys': '-1' } }, spec: { containers: [{ name: 'teku' }] } };
  assert.match(denial(mutatePod(input, V1_20, OPTIONS)), /into pod teku-…:/);
});

test('injection options refuse what would inject a broken sidecar', () => {
  assert.throws(() => injectionOptions({ agentImage: ' ', coordinatorEndpoints: 'c:7400' }), /agent image is empty/);
  assert.throws(() => injectionOptions({ agentImage: 'k', coordinatorEndpoints: 'keylease-coordinator' }), /not HOST:PORT/);
  assert.throws(() => injectionOptions({ agentImage: 'k', coordinatorEndpoints: 'c:7400', maxKeysPerPod: 0 }), /at least 1/);
  assert.throws(() => injectionOptions({ agentImage: 'k', coordinatorEndpoints: 'c:7400', nativeSidecars: 'sometimes' as 'auto' }), /use auto, always or never/);
  assert.ok(injectionOptions({ agentImage: 'k', coordinatorEndpoints: 'a:7400,b:7400' }));
});

test.run();
