import { ANNOTATION, readAnnotations, type InjectionRequest } from './annotations.js';
import {
  AGENT_CONTAINER_NAME,
  INJECTED_VOLUMES,
  KEYS_MOUNT_PATH,
  KEYS_VOLUME,
  PRESTOP_HOOK,
  SIGNER_URL,
  SIGNER_URL_ENV,
  agentContainer,
  injectedVolumes,
  type SidecarForm,
} from './agent-sidecar.js';
import { clientLivenessProbe, clientStartupProbe, fencePlan, restartsClient } from './client-restart.js';
import type { InjectionOptions } from './injection-options.js';
import { appendAll, pointerToken, type JsonPatchAdd } from './json-patch.js';
import type { ContainerJson, PodJson } from './pod-json.js';
import { supportsNativeSidecars, type ServerVersion } from './server-version.js';

export type MutationResult =
  | { readonly allowed: true; readonly patch: readonly JsonPatchAdd[]; readonly form?: SidecarForm }
  | { readonly allowed: false; readonly message: string };

const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

/**
 * Decides what admission does to a pod: pods that do not ask for keylease, and pods that already have the
 * agent, pass untouched (so re-invocation changes nothing); annotated pods get the agent, its volumes and
 * the validator client's preStop hook as an RFC 6902 patch, plus per mode the signer's URL (signer) or
 * the probes that restart the client when its agent fences (files, keymanager); malformed requests, and
 * pods whose client could not be stopped in time, are denied with every reason. Pure: the server
 * version and options come in, nothing is read or written.
 */
export function mutatePod(pod: PodJson, serverVersion: ServerVersion, options: InjectionOptions): MutationResult {
  if (hasAgent(pod)) return { allowed: true, patch: [] };
  const reading = readAnnotations(pod, options.maxKeysPerPod);
  if (reading.kind === 'not-requested') return { allowed: true, patch: [] };
  if (reading.kind === 'malformed') return denied(pod, reading.problems);
  const { request } = reading;
  const form = sidecarForm(serverVersion, options);
  const problems = conflicts(pod, request);
  let fenceMarginMs: number | null = null;
  if (restartsClient(request.mode)) {
    const plan = fencePlan(request.mode, form, pod.spec?.terminationGracePeriodSeconds, options.leaseTtlMs);
    if (plan.ok) fenceMarginMs = plan.marginMs;
    else problems.push(plan.problem);
  }
  if (problems.length > 0) return denied(pod, problems);
  return { allowed: true, patch: injectionPatch(pod, request, form, options, fenceMarginMs), form };
}

const denied = (pod: PodJson, problems: readonly string[]): MutationResult => ({
  allowed: false,
  message: `keylease cannot inject its agent into pod ${podLabel(pod)}: ${problems.join('; ')}`,
});

export function sidecarForm(serverVersion: ServerVersion, options: InjectionOptions): SidecarForm {
  if (options.nativeSidecars === 'always') return 'native-sidecar';
  if (options.nativeSidecars === 'never') return 'sidecar-container';
  return supportsNativeSidecars(serverVersion) ? 'native-sidecar' : 'sidecar-container';
}

function hasAgent(pod: PodJson): boolean {
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  return all.some((c) => c.name === AGENT_CONTAINER_NAME);
}

/** What in the pod would clash with what injection adds. */
function conflicts(pod: PodJson, request: InjectionRequest): string[] {
  const problems: string[] = [];
  const taken = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  for (const name of INJECTED_VOLUMES) {
    if (taken.has(name)) problems.push(`the pod already has a volume named ${name}, which keylease adds; rename it`);
  }
  const validator = pod.spec!.containers![request.validatorIndex]!;
  if (validator.lifecycle?.preStop) {
    problems.push(`container ${validator.name} already has a preStop hook; keylease needs it to hand the keys back before the client stops: remove it, or point ${ANNOTATION.container} at the validator client`);
  }
  if ((validator.volumeMounts ?? []).some((m) => m.mountPath === KEYS_MOUNT_PATH)) {
    problems.push(`container ${validator.name} already mounts something at ${KEYS_MOUNT_PATH}, where keylease puts the keys`);
  }
  if (request.mode === 'signer' && (validator.env ?? []).some((e) => e.name === SIGNER_URL_ENV)) {
    problems.push(`container ${validator.name} already sets ${SIGNER_URL_ENV}, which keylease sets to the agent's signer: remove it`);
  }
  if (restartsClient(request.mode)) {
    const own = request.mode === 'keymanager' ? (['livenessProbe', 'startupProbe'] as const) : (['livenessProbe'] as const);
    for (const probe of own) {
      if (validator[probe]) {
        problems.push(`container ${validator.name} already has a ${probe}; in ${ANNOTATION.mode} ${request.mode} keylease needs it to restart the client when the agent fences: remove it, or use ${ANNOTATION.mode}: signer`);
      }
    }
  }
  return problems;
}

function injectionPatch(pod: PodJson, request: InjectionRequest, form: SidecarForm, options: InjectionOptions, fenceMarginMs: number | null): JsonPatchAdd[] {
  const spec = pod.spec!;
  const validator = spec.containers![request.validatorIndex]!;
  const validatorPath = `/spec/containers/${request.validatorIndex}`;
  const agent = agentContainer(request, form, options, validatorUser(pod, validator), fenceMarginMs);

  // The validator's operations come first: inserting the agent into containers shifts its index.
  const patch: JsonPatchAdd[] = [
    ...appendAll(`${validatorPath}/volumeMounts`, validator.volumeMounts, [{ name: KEYS_VOLUME, mountPath: KEYS_MOUNT_PATH }]),
    validator.lifecycle
      ? { op: 'add', path: `${validatorPath}/lifecycle/preStop`, value: PRESTOP_HOOK }
      : { op: 'add', path: `${validatorPath}/lifecycle`, value: { preStop: PRESTOP_HOOK } },
    ...validatorAdditions(validator, validatorPath, request, form),
    ...appendAll('/spec/volumes', spec.volumes, injectedVolumes(request, options)),
    { op: 'add', path: `/metadata/annotations/${pointerToken(ANNOTATION.injected)}`, value: form },
  ];
  if (form === 'native-sidecar') {
    // First among init containers, so it runs beside every later one too.
    patch.push(spec.initContainers ? { op: 'add', path: '/spec/initContainers/0', value: agent } : { op: 'add', path: '/spec/initContainers', value: [agent] });
  } else {
    // First among containers: the kubelet starts containers in order, each after the previous postStart hook.
    patch.push({ op: 'add', path: '/spec/containers/0', value: agent });
    // Keep `kubectl logs/exec` pointed at the validator client rather than at the agent now listed first.
    if (pod.metadata?.annotations?.[DEFAULT_CONTAINER_ANNOTATION] === undefined) {
      patch.push({ op: 'add', path: `/metadata/annotations/${pointerToken(DEFAULT_CONTAINER_ANNOTATION)}`, value: validator.name });
    }
  }
  return patch;
}

/** What the validator container gets per mode: the signer's URL, or the probes that restart it on a fence. */
function validatorAdditions(validator: ContainerJson, validatorPath: string, request: InjectionRequest, form: SidecarForm): JsonPatchAdd[] {
  if (request.mode === 'signer') return appendAll(`${validatorPath}/env`, validator.env, [{ name: SIGNER_URL_ENV, value: SIGNER_URL }]);
  const patch: JsonPatchAdd[] = [{ op: 'add', path: `${validatorPath}/livenessProbe`, value: clientLivenessProbe(form) }];
  if (request.mode === 'keymanager') patch.push({ op: 'add', path: `${validatorPath}/startupProbe`, value: clientStartupProbe() });
  return patch;
}

function validatorUser(pod: PodJson, validator: ContainerJson): { uid?: number; gid?: number } {
  const podContext = pod.spec?.securityContext;
  const uid = validator.securityContext?.runAsUser ?? podContext?.runAsUser;
  const gid = validator.securityContext?.runAsGroup ?? podContext?.runAsGroup;
  return { ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) };
}

function podLabel(pod: PodJson): string {
  const name = pod.metadata?.name || (pod.metadata?.generateName ? `${pod.metadata.generateName}…` : '(unnamed)');
  return pod.metadata?.namespace ? `${pod.metadata.namespace}/${name}` : name;
}
