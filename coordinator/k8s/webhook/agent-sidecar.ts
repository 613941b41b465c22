import type { InjectionRequest } from './annotations.js';
import type { InjectionOptions } from './injection-options.js';
import type { ContainerJson, EnvVarJson, HttpGetJson, LifecycleHandlerJson } from './pod-json.js';
import { waitForReadyCommand } from './startup-guard.js';

/** Names injection gives to what it adds; a pod that already has the container is already injected. */
export const AGENT_CONTAINER_NAME = 'keylease-agent';
export const KEYS_VOLUME = 'keylease-keys';
export const TOKEN_VOLUME = 'keylease-token';
export const AGENT_TMP_VOLUME = 'keylease-agent-tmp';
export const COORDINATOR_CA_VOLUME = 'keylease-coordinator-ca';
export const KEYMANAGER_CA_VOLUME = 'keylease-keymanager-ca';
export const SIGNER_STATE_VOLUME = 'keylease-signer-state';
export const INJECTED_VOLUMES = [KEYS_VOLUME, TOKEN_VOLUME, AGENT_TMP_VOLUME, COORDINATOR_CA_VOLUME, KEYMANAGER_CA_VOLUME, SIGNER_STATE_VOLUME] as const;

/** Where both containers see the keys: the same path, since some layouts write absolute paths. */
export const KEYS_MOUNT_PATH = '/keylease/keys';
/** The validator client writes its Keymanager API token here (Lighthouse does by default with --validators-dir=KEYS_MOUNT_PATH). */
export const KEYMANAGER_TOKEN_PATH = `${KEYS_MOUNT_PATH}/api-token.txt`;
export const TOKEN_MOUNT_PATH = '/var/run/secrets/keylease.io/serviceaccount';
export const TOKEN_PATH = `${TOKEN_MOUNT_PATH}/token`;
const COORDINATOR_CA_MOUNT_PATH = '/etc/keylease/coordinator-ca';
const KEYMANAGER_CA_MOUNT_PATH = '/etc/keylease/keymanager-ca';
/** The signer's slashing-protection watermarks: in memory, the agent's alone, kept across agent restarts in the pod. */
export const SIGNER_STATE_MOUNT_PATH = '/keylease/signer-state';

/**
 * Signer mode: the agent's remote-signing API, on the pod's loopback only (nothing outside the pod may ask
 * it to sign). 9000 is Web3Signer's customary port; validator clients do not listen on it.
 */
export const SIGNER_LISTEN = '127.0.0.1:9000';
export const SIGNER_URL = `http://${SIGNER_LISTEN}`;
/** Set on the validator container in signer mode; manifests write `$(KEYLEASE_SIGNER_URL)` in args. */
export const SIGNER_URL_ENV = 'KEYLEASE_SIGNER_URL';

/** The audience the coordinator asks TokenReview for: a token made for anything else is refused. */
export const TOKEN_AUDIENCE = 'keylease';
/** The shortest lifetime the API server allows; the kubelet rotates the file at 80% of it. */
export const TOKEN_EXPIRATION_SECONDS = 600;
/** Not a common validator-client port (Prysm's monitoring uses 8081), as all containers share the pod's network. */
export const AGENT_HEALTH_PORT = 7410;
/**
 * Node options of the agent. A 1 MiB young generation (V8's default grows to 16 MiB) keeps an idle agent's
 * memory flat (when introduced, npm run bench:footprint, 100 keys: 60 MiB steady, 64 MiB peak, instead of
 * 61-74 and 77). --jitless: V8 interprets only, which leaves its compilers' code and pages untouched: 5-8 MiB
 * less RSS (signer 55 MiB instead of 61, files 52 instead of 60). The agent's hot work is native (BLS, sha256,
 * JSON); the signer still serves about 450 attestations a second (npm run bench:signer -- --signer-node-options).
 * It has no WebAssembly (compiled-cli.test.ts runs the bundle so); V8 says on stderr that it disabled it.
 */
export const AGENT_NODE_OPTIONS = '--max-semi-space-size=1 --jitless';
/** How long the validator client waits for its keys before the agent is restarted. */
export const AGENT_READY_TIMEOUT_SECONDS = 600;
/** The agent image's user (Dockerfile USER). */
const AGENT_IMAGE_UID = 10001;

/**
 * The kubelet's hooks can only GET, and the validator image may have no shell or HTTP tool at all
 * (Prysm's is distroless), so the preStop hook is an httpGet the kubelet itself makes. The header keeps a
 * stray GET (a browser, a misplaced probe) from triggering a handover.
 */
export const PRESTOP_HOOK: LifecycleHandlerJson = {
  httpGet: { path: '/prestop', port: AGENT_HEALTH_PORT, scheme: 'HTTP', httpHeaders: [{ name: 'X-Keylease-Hook', value: 'prestop' }] },
};

export type SidecarForm = 'native-sidecar' | 'sidecar-container';

const httpGet = (path: string): HttpGetJson => ({ path, port: AGENT_HEALTH_PORT, scheme: 'HTTP' });
const fieldEnv = (name: string, fieldPath: string): EnvVarJson => ({ name, valueFrom: { fieldRef: { fieldPath } } });

/**
 * The agent container. `validatorUser` is the validator client's user when the pod says it: the agent
 * writes keys mode 0600, so it runs as that user for the client to be able to read them. `fenceMarginMs`
 * is set where the client is restarted on a fence (client-restart.ts), else the agent picks its own.
 */
export function agentContainer(
  request: InjectionRequest,
  form: SidecarForm,
  options: InjectionOptions,
  validatorUser: { uid?: number; gid?: number },
  fenceMarginMs: number | null,
): ContainerJson {
  // Through a Keymanager API (keymanager mode, or signer mode registering remote keys) the client must be
  // running before the agent can hand it anything, so it is not held back. Otherwise it must not start
  // before /readyz: its keys written (files), or the signer serving its keys and Lighthouse's definitions
  // written (signer) — Prysm, Teku and Lighthouse read the key list only at start.
  const holdValidatorUntilReady = request.keymanagerUrl === null;
  const env: EnvVarJson[] = [
    { name: 'KEYLEASE_COORDINATOR', value: options.coordinatorEndpoints },
    fieldEnv('KEYLEASE_POD_NAME', 'metadata.name'),
    fieldEnv('KEYLEASE_POD_UID', 'metadata.uid'),
    fieldEnv('KEYLEASE_POD_NAMESPACE', 'metadata.namespace'),
    { name: 'KEYLEASE_POOL', value: request.pool },
    { name: 'KEYLEASE_KEYS', value: String(request.keyCount) },
    { name: 'KEYLEASE_HEALTH_LISTEN', value: `0.0.0.0:${AGENT_HEALTH_PORT}` },
    { name: 'KEYLEASE_TOKEN_FILE', value: TOKEN_PATH },
    { name: 'NODE_OPTIONS', value: AGENT_NODE_OPTIONS },
  ];
  if (request.mode === 'signer') {
    env.push({ name: 'KEYLEASE_SIGNER_LISTEN', value: SIGNER_LISTEN }, { name: 'KEYLEASE_SIGNER_STATE_DIR', value: SIGNER_STATE_MOUNT_PATH });
    // mainnet is the agent's own default.
    if (options.signerPreset !== 'mainnet') env.push({ name: 'KEYLEASE_SIGNER_PRESET', value: options.signerPreset });
  }
  if (request.layout !== null) {
    env.push({ name: 'KEYLEASE_LAYOUT', value: request.layout }, { name: 'KEYLEASE_OUT', value: KEYS_MOUNT_PATH });
  }
  if (request.keymanagerUrl !== null) {
    env.push({ name: 'KEYLEASE_KEYMANAGER_URL', value: request.keymanagerUrl }, { name: 'KEYLEASE_KEYMANAGER_TOKEN_FILE', value: KEYMANAGER_TOKEN_PATH });
  }
  if (request.keymanagerCaSecret !== null) env.push({ name: 'KEYLEASE_KEYMANAGER_CA_FILE', value: `${KEYMANAGER_CA_MOUNT_PATH}/ca.crt` });
  if (options.coordinatorCaConfigMap !== null) env.push({ name: 'KEYLEASE_TLS_CA_FILE', value: `${COORDINATOR_CA_MOUNT_PATH}/ca.crt` });
  if (fenceMarginMs !== null) env.push({ name: 'KEYLEASE_FENCE_MARGIN_MS', value: String(fenceMarginMs) });

  const volumeMounts: NonNullable<ContainerJson['volumeMounts']> = [
    { name: KEYS_VOLUME, mountPath: KEYS_MOUNT_PATH },
    { name: TOKEN_VOLUME, mountPath: TOKEN_MOUNT_PATH, readOnly: true },
    // A writable /tmp, as the root filesystem is read-only.
    { name: AGENT_TMP_VOLUME, mountPath: '/tmp' },
  ];
  if (options.coordinatorCaConfigMap !== null) volumeMounts.push({ name: COORDINATOR_CA_VOLUME, mountPath: COORDINATOR_CA_MOUNT_PATH, readOnly: true });
  if (request.keymanagerCaSecret !== null) volumeMounts.push({ name: KEYMANAGER_CA_VOLUME, mountPath: KEYMANAGER_CA_MOUNT_PATH, readOnly: true });
  if (request.mode === 'signer') volumeMounts.push({ name: SIGNER_STATE_VOLUME, mountPath: SIGNER_STATE_MOUNT_PATH });

  const runAsUser = validatorUser.uid !== undefined && validatorUser.uid !== 0 ? validatorUser.uid : AGENT_IMAGE_UID;
  const container: ContainerJson = {
    name: AGENT_CONTAINER_NAME,
    image: options.agentImage,
    imagePullPolicy: options.agentImagePullPolicy,
    args: ['agent'],
    env,
    ports: [{ name: 'keylease-health', containerPort: AGENT_HEALTH_PORT, protocol: 'TCP' }],
    volumeMounts,
    resources: { requests: { ...options.agentResources.requests }, limits: { ...options.agentResources.limits } },
    readinessProbe: { httpGet: httpGet('/readyz'), periodSeconds: 5, failureThreshold: 1 },
    // Red while fenced or failed: a restart clears what is left and claims again.
    livenessProbe: { httpGet: httpGet('/healthz'), periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 5 },
    securityContext: {
      runAsNonRoot: true,
      runAsUser,
      ...(validatorUser.gid !== undefined && validatorUser.gid !== 0 && runAsUser === validatorUser.uid ? { runAsGroup: validatorUser.gid } : {}),
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
  };
  if (form === 'native-sidecar') {
    container.restartPolicy = 'Always';
    // The kubelet starts the next container only once a native sidecar's startup probe has passed.
    if (holdValidatorUntilReady) container.startupProbe = { httpGet: httpGet('/readyz'), periodSeconds: 1, failureThreshold: AGENT_READY_TIMEOUT_SECONDS };
  } else if (holdValidatorUntilReady) {
    container.lifecycle = { postStart: { exec: { command: waitForReadyCommand(AGENT_HEALTH_PORT, AGENT_READY_TIMEOUT_SECONDS) } } };
  }
  return container;
}

/** The pod volumes injection adds. */
export function injectedVolumes(request: InjectionRequest, options: InjectionOptions): Array<{ name: string; [field: string]: unknown }> {
  const volumes: Array<{ name: string; [field: string]: unknown }> = [
    // In memory: keystores and passwords never reach a node's disk.
    { name: KEYS_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    {
      name: TOKEN_VOLUME,
      projected: { sources: [{ serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: TOKEN_EXPIRATION_SECONDS, path: 'token' } }] },
    },
    { name: AGENT_TMP_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
  ];
  // Pod-scoped, so a restarted agent finds its watermarks; in memory, like the keys.
  if (request.mode === 'signer') volumes.push({ name: SIGNER_STATE_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
  if (options.coordinatorCaConfigMap !== null) {
    volumes.push({ name: COORDINATOR_CA_VOLUME, configMap: { name: options.coordinatorCaConfigMap, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
  }
  if (request.keymanagerCaSecret !== null) {
    volumes.push({ name: KEYMANAGER_CA_VOLUME, secret: { secretName: request.keymanagerCaSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } });
  }
  return volumes;
}
