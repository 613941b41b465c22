import { ANNOTATION, readAnnotations, type InjectionRequest } from './annotations.js';
import {
  AGENT_CONTAINER_NAME,
  INJECTED_VOLUMES,
  KEYS_MOUNT_PATH,
  KEYS_VOLUME,
  PRESTOP_HOOK,
  agentContainer,
  injectedVolumes,
  type SidecarForm,
} from './agent-sidecar.js';
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
 * the validator client's preStop hook as an RFC 6902 patch; malformed requests are denied with every
 * reason. Pure: the server version and options come in, nothing is read or written.
 */
export function mutatePod(pod: PodJson, serverVersion: ServerVersion, options: InjectionOptions): MutationResult {
  if (hasAgent(pod)) return { allowed: true, patch: [] };
  const reading = readAnnotations(pod, options.maxKeysPerPod);
  if (reading.kind === 'not-requested') return { allowed: true, patch: [] };
  const problems = reading.kind === 'malformed' ? [...reading.problems] : conflicts(pod, reading.request);
  if (reading.kind === 'malformed' || problems.length > 0) {
    return { allowed: false, message: `keylease cannot inject its agent into pod ${podLabel(pod)}: ${problems.join('; ')}` };
  }
  const form = sidecarForm(serverVersion, options);
  return { allowed: true, patch: injectionPatch(pod, reading.request, form, options), form };
}

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
  return problems;
}

function injectionPatch(pod: PodJson, request: InjectionRequest, form: SidecarForm, options: InjectionOptions): JsonPatchAdd[] {
  const spec = pod.spec!;
  const validator = spec.containers![request.validatorIndex]!;
  const validatorPath = `/spec/containers/${request.validatorIndex}`;
  const agent = agentContainer(request, form, options, validatorUser(pod, validator));

  // The validator's operations come first: inserting the agent into containers shifts its index.
  const patch: JsonPatchAdd[] = [
    ...appendAll(`${validatorPath}/volumeMounts`, validator.volumeMounts, [{ name: KEYS_VOLUME, mountPath: KEYS_MOUNT_PATH }]),
    validator.lifecycle
      ? { op: 'add', path: `${validatorPath}/lifecycle/preStop`, value: PRESTOP_HOOK }
      : { op: 'add', path: `${validatorPath}/lifecycle`, value: { preStop: PRESTOP_HOOK } },
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
