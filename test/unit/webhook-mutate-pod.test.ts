import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_LIVENESS, PROBE_KILL_GRACE_SECONDS } from '../../coordinator/k8s/webhook/client-restart.js';
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

/** Signer mode (the default), with Lighthouse's web3signer definitions written by the agent. */
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

const agentOf = (p: PodJson) => [...(p.spec!.initContainers ?? []), ...p.spec!.containers!].find((c) => c.name === 'keylease-agent')!;
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
    assert.equal(volumes['keylease-signer-state'], { name: 'keylease-signer-state', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
    assert.equal(validator.volumeMounts, [{ name: 'keylease-keys', mountPath: '/keylease/keys' }], 'the signer state is the agent\'s alone');
    assert.equal(agent.volumeMounts!.map((m) => [m.name, m.mountPath]), [
      ['keylease-keys', '/keylease/keys'],
      ['keylease-token', '/var/run/secrets/keylease.io/serviceaccount'],
      ['keylease-agent-tmp', '/tmp'],
      ['keylease-signer-state', '/keylease/signer-state'],
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
      KEYLEASE_SIGNER_LISTEN: '127.0.0.1:9000',
      KEYLEASE_SIGNER_STATE_DIR: '/keylease/signer-state',
      NODE_OPTIONS: '--max-semi-space-size=1 --jitless',
      KEYLEASE_LAYOUT: 'lighthouse',
      KEYLEASE_OUT: '/keylease/keys',
    });
    assert.equal(validator.env, [{ name: 'KEYLEASE_SIGNER_URL', value: 'http://127.0.0.1:9000' }]);
    assert.is(validator.livenessProbe, undefined, 'a dead signer signs nothing: the client need not be restarted');
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
  assert.equal(out.spec!.volumes!.map((v) => v.name), ['data', 'keylease-keys', 'keylease-token', 'keylease-agent-tmp', 'keylease-signer-state']);
  assert.is(out.metadata!.annotations!['kubectl.kubernetes.io/default-container'], 'teku');
});

test('an existing default-container annotation is kept', () => {
  const out = injected(pod({ ...ANNOTATED, 'kubectl.kubernetes.io/default-container': 'other' }), V1_20);
  assert.is(out.metadata!.annotations!['kubectl.kubernetes.io/default-container'], 'other');
});

test('with the Keymanager API (keymanager mode, or signer mode registering remote keys) the client is not held back: it must be up first; the token file is shared', () => {
  const viaApi = { 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet', 'keylease.io/keymanager-url': 'http://127.0.0.1:5062' };
  for (const version of [V1_20, V1_29]) {
    for (const mode of ['signer', 'keymanager']) {
      const out = injected(pod({ ...viaApi, 'keylease.io/mode': mode }, { terminationGracePeriodSeconds: 5 }), version);
      const agent = agentOf(out);
      assert.is(agent.startupProbe, undefined, mode);
      assert.is(agent.lifecycle, undefined, mode);
      const vars = env(agent);
      assert.is(vars['KEYLEASE_KEYMANAGER_URL'], 'http://127.0.0.1:5062');
      assert.is(vars['KEYLEASE_KEYMANAGER_TOKEN_FILE'], '/keylease/keys/api-token.txt');
      assert.is(vars['KEYLEASE_LAYOUT'], undefined, 'no layout asked for, none given');
      assert.is(vars['KEYLEASE_SIGNER_LISTEN'], mode === 'signer' ? '127.0.0.1:9000' : undefined, 'the agent signs in signer mode only');
    }
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

// ---- Modes: how the client gets its signatures ----

const FILES = { 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet', 'keylease.io/mode': 'files', 'keylease.io/layout': 'teku' };
const KEYMANAGER = { 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet', 'keylease.io/mode': 'keymanager', 'keylease.io/keymanager-url': 'http://127.0.0.1:5062' };
/** Short enough for the regular-sidecar form with the default 30 s lease. */
const SHORT_GRACE = { terminationGracePeriodSeconds: 5 };
const validatorOf = (p: PodJson) => p.spec!.containers!.find((c) => c.name === 'lighthouse')!;
const marginOf = (p: PodJson) => Number(env(agentOf(p))['KEYLEASE_FENCE_MARGIN_MS']);
const heldBackUntilReady = (p: PodJson, version: ServerVersion) => {
  const agent = agentOf(p);
  if (version === V1_29) return agent.startupProbe?.httpGet.path === '/readyz';
  const hook = agent.lifecycle?.postStart;
  return hook !== undefined && 'exec' in hook && hook.exec.command.join(' ').includes('/readyz');
};

test('signer mode is the default: the agent serves the signing API on the loopback, keeps its watermarks in memory, and the client finds it through KEYLEASE_SIGNER_URL', () => {
  for (const version of [V1_20, V1_29]) {
    const implicit = injected(pod({ 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet' }), version);
    const explicit = injected(pod({ 'keylease.io/inject': 'true', 'keylease.io/keys': '2', 'keylease.io/pool': 'mainnet', 'keylease.io/mode': 'signer' }), version);
    assert.equal(implicit.spec, explicit.spec, 'no annotation means signer');
    const agent = agentOf(implicit);
    const vars = env(agent);
    assert.is(vars['KEYLEASE_SIGNER_LISTEN'], '127.0.0.1:9000', 'nothing outside the pod can ask it to sign');
    const stateMount = agent.volumeMounts!.find((m) => m.mountPath === vars['KEYLEASE_SIGNER_STATE_DIR']);
    const stateVolume = implicit.spec!.volumes!.find((v) => v.name === stateMount?.name) as { emptyDir?: { medium?: string } } | undefined;
    assert.is(stateVolume?.emptyDir?.medium, 'Memory', 'watermarks on the pod\'s in-memory volume, kept across agent restarts');
    assert.not.ok((validatorOf(implicit).volumeMounts ?? []).some((m) => m.name === stateMount!.name), 'the client cannot touch the watermarks');
    assert.is(vars['KEYLEASE_LAYOUT'], undefined, 'no layout: no file of any kind for the client');
    assert.is(vars['KEYLEASE_FENCE_MARGIN_MS'], undefined, 'the signer stops itself at its deadline: the agent\'s own margin will do');
    assert.equal(validatorOf(implicit).env, [{ name: 'KEYLEASE_SIGNER_URL', value: `http://${vars['KEYLEASE_SIGNER_LISTEN']}` }]);
    assert.ok(heldBackUntilReady(implicit, version), 'the client starts once the signer serves its keys (Prysm, Teku read them only at start)');
  }
});

test('signer mode: the agent gets the deployment\'s signer preset when it is not mainnet (its own default); other modes sign nothing and get none', () => {
  const minimal = injectionOptions({ ...OPTIONS, signerPreset: 'minimal' });
  assert.is(env(agentOf(injected(pod(ANNOTATED), V1_20, minimal)))['KEYLEASE_SIGNER_PRESET'], 'minimal');
  assert.is(env(agentOf(injected(pod(ANNOTATED), V1_20)))['KEYLEASE_SIGNER_PRESET'], undefined);
  assert.is(env(agentOf(injected(pod(FILES, SHORT_GRACE), V1_20, minimal)))['KEYLEASE_SIGNER_PRESET'], undefined);
  assert.throws(() => injectionOptions({ ...OPTIONS, signerPreset: 'gnosis' as 'minimal' }), /signer preset "gnosis": use mainnet or minimal/);
});

test('signer mode: KEYLEASE_SIGNER_URL is added after the client\'s own env', () => {
  const out = injected(pod(ANNOTATED, { containers: [{ name: 'lighthouse', env: [{ name: 'BEACON', value: 'http://bn:5052' }] }] }), V1_29);
  assert.equal(validatorOf(out).env!.map((e) => e.name), ['BEACON', 'KEYLEASE_SIGNER_URL']);
});

for (const [label, version] of [['1.20', V1_20], ['1.29', V1_29]] as const) {
  test(`${label}: files mode writes keystores and gives the client a liveness probe on the agent's health, so a fenced or dead agent gets the client restarted`, () => {
    const out = injected(pod(FILES, SHORT_GRACE), version);
    const agent = agentOf(out);
    const validator = validatorOf(out);
    const vars = env(agent);
    assert.is(vars['KEYLEASE_LAYOUT'], 'teku');
    assert.is(vars['KEYLEASE_OUT'], '/keylease/keys');
    assert.is(vars['KEYLEASE_SIGNER_LISTEN'], undefined, 'no signer in files mode');
    assert.not.ok(out.spec!.volumes!.some((v) => v.name === 'keylease-signer-state'));
    assert.is(validator.env, undefined, 'no signer URL for the client');
    const probe = validator.livenessProbe!;
    assert.is(probe.httpGet.path, '/healthz');
    // The kubelet probes the pod IP: the agent must listen there, on the probed port.
    assert.is(vars['KEYLEASE_HEALTH_LISTEN'], `0.0.0.0:${probe.httpGet.port}`);
    assert.ok(probe.periodSeconds <= 2 && probe.failureThreshold <= 2 && (probe.timeoutSeconds ?? 1) <= 2, 'a fence is noticed within seconds');
    // Only nodes known to honour a probe's own grace (native-sidecar form, ≥ 1.29) get one.
    assert.is(probe.terminationGracePeriodSeconds, version === V1_29 ? PROBE_KILL_GRACE_SECONDS : undefined);
    assert.is(validator.startupProbe, undefined, 'the client starts after the agent is ready, so its health answers from the start');
    assert.ok(heldBackUntilReady(out, version), 'keys written before the client starts');
    assert.ok(marginOf(out) > 0, 'the agent fences early enough for the kubelet');
  });

  test(`${label}: keymanager mode: the client is not held back, so its liveness probe waits for the agent's first healthy answer (a startup probe), then restarts it on a fence`, () => {
    const out = injected(pod(KEYMANAGER, SHORT_GRACE), version);
    const validator = validatorOf(out);
    assert.not.ok(heldBackUntilReady(out, version));
    assert.is(validator.startupProbe?.httpGet.path, '/healthz');
    assert.ok(validator.startupProbe!.periodSeconds * validator.startupProbe!.failureThreshold >= 300, 'time for the client to start and the agent to reach its API');
    assert.is(validator.livenessProbe?.httpGet.path, '/healthz');
    assert.is(validator.livenessProbe?.httpGet.port, validator.startupProbe!.httpGet.port);
    assert.ok(marginOf(out) > 0);
    assert.is(env(agentOf(out))['KEYLEASE_SIGNER_LISTEN'], undefined);
  });
}

/** The longest a fenced agent's client may keep running: failed probes (each may wait its timeout), then the kill. */
const worstKillMs = (graceSeconds: number) => (CLIENT_LIVENESS.failureThreshold * (CLIENT_LIVENESS.periodSeconds + CLIENT_LIVENESS.timeoutSeconds) + graceSeconds) * 1000;

test('native-sidecar form: the fence margin covers the failed probes and the probe\'s own kill grace, whatever the pod\'s grace, and fits in half the lease', () => {
  const margins = [5, 60, 600].map((grace) => marginOf(injected(pod(FILES, { terminationGracePeriodSeconds: grace }), V1_29)));
  assert.ok(margins.every((m) => m === margins[0]), 'the pod\'s grace period does not count');
  assert.ok(margins[0]! >= worstKillMs(PROBE_KILL_GRACE_SECONDS) + 2000, 'plus the 2 s the kubelet gives an overrunning preStop hook');
  assert.ok(margins[0]! <= OPTIONS.leaseTtlMs / 2, 'within what the agent may fence early');
});

test('regular-sidecar form: the pod\'s terminationGracePeriodSeconds counts, second for second, and a pod that cannot be stopped in time is refused with the way out', () => {
  const margin = (grace: number) => marginOf(injected(pod(FILES, { terminationGracePeriodSeconds: grace }), V1_20));
  assert.is(margin(4) - margin(1), 3000);
  assert.ok(margin(1) >= worstKillMs(1) + 2000);
  // The longest grace the default 30 s lease allows: the first refused one names it.
  let longest = 0;
  while (mutatePod(pod(FILES, { terminationGracePeriodSeconds: longest + 1 }), V1_20, OPTIONS).allowed) longest++;
  assert.ok(longest >= 1 && margin(longest) <= OPTIONS.leaseTtlMs / 2);
  const message = denial(mutatePod(pod(FILES, { terminationGracePeriodSeconds: longest + 1 }), V1_20, OPTIONS));
  assert.match(message, new RegExp(`keylease\\.io/mode files restarts the validator client when its agent fences.*spec\\.terminationGracePeriodSeconds ${longest + 1} s.*set spec\\.terminationGracePeriodSeconds to at most ${longest}, or run the coordinator and the webhook with --lease-ttl-ms \\d+ or more, or use keylease\\.io/mode: signer`));
  // The TTL it names is enough.
  const ttl = Number(/--lease-ttl-ms (\d+)/.exec(message)![1]);
  assert.ok(mutatePod(pod(FILES, { terminationGracePeriodSeconds: longest + 1 }), V1_20, injectionOptions({ ...OPTIONS, leaseTtlMs: ttl })).allowed);
  assert.not.ok(mutatePod(pod(FILES, { terminationGracePeriodSeconds: longest + 1 }), V1_20, injectionOptions({ ...OPTIONS, leaseTtlMs: ttl - 1 })).allowed);
  // Unset means Kubernetes' 30 s; the same holds in keymanager mode; signer mode has no such limit.
  assert.match(denial(mutatePod(pod(FILES), V1_20, OPTIONS)), /spec\.terminationGracePeriodSeconds 30 s \(the default\)/);
  assert.match(denial(mutatePod(pod(KEYMANAGER, { terminationGracePeriodSeconds: 60 }), V1_20, OPTIONS)), /keylease\.io\/mode keymanager restarts the validator client/);
  assert.ok(mutatePod(pod(ANNOTATED, { terminationGracePeriodSeconds: 600 }), V1_20, OPTIONS).allowed);
});

test('a lease too short for any kill is refused on the native form too, pointing at --lease-ttl-ms rather than the pod', () => {
  const short = injectionOptions({ ...OPTIONS, leaseTtlMs: 10_000 });
  const message = denial(mutatePod(pod(FILES, SHORT_GRACE), V1_29, short));
  assert.match(message, /the probe's own \d+ s grace.*with a 10 s lease: run the coordinator and the webhook with --lease-ttl-ms \d+ or more, or use keylease\.io\/mode: signer/);
  assert.not.match(message, /terminationGracePeriodSeconds to at most/);
});

test('denied when the client already has what its mode adds', () => {
  const withProbe = (probe: 'livenessProbe' | 'startupProbe') => ({ containers: [{ name: 'lighthouse', [probe]: { httpGet: { path: '/x', port: 1 }, periodSeconds: 10, failureThreshold: 3 } }], ...SHORT_GRACE });
  assert.match(denial(mutatePod(pod(FILES, withProbe('livenessProbe')), V1_29, OPTIONS)), /container lighthouse already has a livenessProbe; in keylease\.io\/mode files keylease needs it to restart the client when the agent fences: remove it, or use keylease\.io\/mode: signer/);
  assert.match(denial(mutatePod(pod(KEYMANAGER, withProbe('startupProbe')), V1_29, OPTIONS)), /already has a startupProbe; in keylease\.io\/mode keymanager/);
  assert.ok(mutatePod(pod(FILES, withProbe('startupProbe')), V1_29, OPTIONS).allowed, 'files mode adds no startup probe');
  assert.ok(mutatePod(pod(ANNOTATED, withProbe('livenessProbe')), V1_29, OPTIONS).allowed, 'signer mode leaves the client\'s probes alone');
  assert.match(
    denial(mutatePod(pod(ANNOTATED, { containers: [{ name: 'lighthouse', env: [{ name: 'KEYLEASE_SIGNER_URL', value: 'http://elsewhere:9000' }] }] }), V1_29, OPTIONS)),
    /container lighthouse already sets KEYLEASE_SIGNER_URL, which keylease sets to the agent's signer: remove it/,
  );
});

const MALFORMED: Array<[string, Record<string, string>, RegExp]> = [
  ['negative key count', { ...ANNOTATED, 'keylease.io/keys': '-3' }, /keylease\.io\/keys is "-3"; it must be a whole number from 1 to 64/],
  ['zero keys', { ...ANNOTATED, 'keylease.io/keys': '0' }, /keylease\.io\/keys is "0"; it must be a whole number from 1 to 64/],
  ['too many keys', { ...ANNOTATED, 'keylease.io/keys': '65' }, /keylease\.io\/keys is "65"; it must be a whole number from 1 to 64/],
  ['fractional keys', { ...ANNOTATED, 'keylease.io/keys': '2.5' }, /keylease\.io\/keys is "2\.5"/],
  ['keys with a sign', { ...ANNOTATED, 'keylease.io/keys': '+2' }, /keylease\.io\/keys is "\+2"/],
  ['keys not a number', { ...ANNOTATED, 'keylease.io/keys': 'four' }, /keylease\.io\/keys is "four"/],
  ['keys missing', { 'keylease.io/inject': 'true', 'keylease.io/pool': 'mainnet' }, /keylease\.io\/keys is missing/],
  ['pool missing', { 'keylease.io/inject': 'true', 'keylease.io/keys': '1' }, /keylease\.io\/pool is missing/],
  ['pool not a DNS label', { ...ANNOTATED, 'keylease.io/pool': 'Main_Net' }, /keylease\.io\/pool: pool name "Main_Net" is not a DNS-1123 label/],
  ['unknown mode', { ...ANNOTATED, 'keylease.io/mode': 'remote' }, /keylease\.io\/mode is "remote"; use signer \(the default: the agent signs for the client, keys never leave it\), files or keymanager/],
  ['files mode without a layout', { 'keylease.io/inject': 'true', 'keylease.io/keys': '1', 'keylease.io/pool': 'mainnet', 'keylease.io/mode': 'files' }, /keylease\.io\/layout is missing: keylease\.io\/mode files needs the validator client's key layout \(lighthouse, teku, nimbus, lodestar, prysm, web3signer, plain\)/],
  ['files mode with a Keymanager API', { ...ANNOTATED, 'keylease.io/mode': 'files', 'keylease.io/keymanager-url': 'http://127.0.0.1:5062' }, /keylease\.io\/keymanager-url is for keylease\.io\/mode keymanager or signer; keylease\.io\/mode files only writes key files/],
  ['keymanager mode without its URL', { ...ANNOTATED, 'keylease.io/mode': 'keymanager' }, /keylease\.io\/keymanager-url is missing: keylease\.io\/mode keymanager needs the validator client's Keymanager API in the pod/],
  ['a keystore layout in signer mode (the default)', { ...ANNOTATED, 'keylease.io/layout': 'teku' }, /keylease\.io\/layout teku writes keystores, and in keylease\.io\/mode signer \(the default\) keys never leave the agent: drop keylease\.io\/layout and point the client at \$\(KEYLEASE_SIGNER_URL\).*or set keylease\.io\/mode: files/],
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
  assert.throws(() => injectionOptions({ agentImage: 'k', coordinatorEndpoints: 'c:7400', leaseTtlMs: 1000 }), /lease TTL must be .* at least 2000/);
  assert.ok(injectionOptions({ agentImage: 'k', coordinatorEndpoints: 'a:7400,b:7400' }));
});

test.run();
