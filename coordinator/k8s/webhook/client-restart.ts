import { ANNOTATION, type InjectionMode } from './annotations.js';
import { AGENT_HEALTH_PORT, AGENT_READY_TIMEOUT_SECONDS, type SidecarForm } from './agent-sidecar.js';
import type { ProbeJson } from './pod-json.js';

/**
 * Files and keymanager modes hand the client keystores, and a running client keeps what it loaded: deleting
 * files (or a DELETE the client only half obeys) does not stop it signing. So the kubelet restarts the
 * client when its agent fences: the client's liveness probe is the agent's /healthz, red while the agent
 * is fenced or failed, and unreachable when the agent is dead or hung. The agent fences early enough for
 * the kill to land before the lease could lapse (its --fence-margin-ms):
 *
 *   detect  = failureThreshold × (periodSeconds + timeoutSeconds)   the last probe passed just before the
 *                                                                     fence; each failure may wait a timeout
 *   kill    = grace + PRESTOP_OVERRUN_SECONDS                        preStop hook and SIGTERM share the grace;
 *                                                                     the kubelet adds 2 s once to an overrunning
 *                                                                     hook, then SIGKILLs
 *   margin  = detect + kill + KUBELET_SLACK_SECONDS                  reaction and runtime latency
 *
 * The grace is the probe's own terminationGracePeriodSeconds where the nodes are known to honour it
 * (native-sidecar form: nodes ≥ 1.29, the field is GA since 1.28); on the regular-sidecar form the nodes
 * may be older, so the pod's terminationGracePeriodSeconds counts. The agent caps its margin at half the
 * lease TTL (its deadline must stay after the first renewal at TTL/3), so a margin above that is refused.
 */
export const CLIENT_LIVENESS = { periodSeconds: 1, failureThreshold: 2, timeoutSeconds: 1 } as const;
/** Long enough for the preStop handover of a healthy-but-restarting client, short enough for the margin. */
export const PROBE_KILL_GRACE_SECONDS = 5;
const PRESTOP_OVERRUN_SECONDS = 2;
const KUBELET_SLACK_SECONDS = 2;
/** Kubernetes' default spec.terminationGracePeriodSeconds. */
const DEFAULT_POD_GRACE_SECONDS = 30;
const DETECT_SECONDS = CLIENT_LIVENESS.failureThreshold * (CLIENT_LIVENESS.periodSeconds + CLIENT_LIVENESS.timeoutSeconds);
const FIXED_SECONDS = DETECT_SECONDS + PRESTOP_OVERRUN_SECONDS + KUBELET_SLACK_SECONDS;

export const restartsClient = (mode: InjectionMode) => mode === 'files' || mode === 'keymanager';

const healthz = () => ({ path: '/healthz', port: AGENT_HEALTH_PORT, scheme: 'HTTP' as const });

/** The validator client's liveness probe: the agent's health, from the kubelet (pod IP; the agent listens on 0.0.0.0). */
export function clientLivenessProbe(form: SidecarForm): ProbeJson {
  return {
    httpGet: healthz(),
    ...CLIENT_LIVENESS,
    ...(form === 'native-sidecar' ? { terminationGracePeriodSeconds: PROBE_KILL_GRACE_SECONDS } : {}),
  };
}

/**
 * Keymanager mode only: the client starts beside the agent, and the agent serves /healthz only once the
 * client's API answers; until this passes once, the liveness probe waits instead of killing a client
 * that is still starting.
 */
export function clientStartupProbe(): ProbeJson {
  return { httpGet: healthz(), periodSeconds: 1, failureThreshold: AGENT_READY_TIMEOUT_SECONDS, timeoutSeconds: 1 };
}

export type FencePlan = { readonly ok: true; readonly marginMs: number } | { readonly ok: false; readonly problem: string };

/** The agent's --fence-margin-ms for a pod whose client is restarted on a fence, or why none fits the lease. */
export function fencePlan(mode: InjectionMode, form: SidecarForm, podGraceSeconds: number | undefined, leaseTtlMs: number): FencePlan {
  const graceSeconds = form === 'native-sidecar' ? PROBE_KILL_GRACE_SECONDS : podGraceSeconds ?? DEFAULT_POD_GRACE_SECONDS;
  const marginMs = (FIXED_SECONDS + graceSeconds) * 1000;
  const allowedMs = leaseTtlMs / 2;
  if (marginMs <= allowedMs) return { ok: true, marginMs };

  const graceSource =
    form === 'native-sidecar'
      ? `the probe's own ${graceSeconds} s grace`
      : `spec.terminationGracePeriodSeconds ${graceSeconds} s${podGraceSeconds === undefined ? ' (the default)' : ''}, which liveness kills use on the regular-sidecar form`;
  const fixes: string[] = [];
  const maxGrace = Math.floor(allowedMs / 1000) - FIXED_SECONDS;
  if (form === 'sidecar-container' && maxGrace >= 1) fixes.push(`set spec.terminationGracePeriodSeconds to at most ${maxGrace}`);
  fixes.push(`run the coordinator and the webhook with --lease-ttl-ms ${2 * marginMs} or more`);
  fixes.push(`use ${ANNOTATION.mode}: signer`);
  return {
    ok: false,
    problem:
      `${ANNOTATION.mode} ${mode} restarts the validator client when its agent fences, and the kill must land before the lease could lapse: ` +
      `it takes up to ${marginMs / 1000} s here (${DETECT_SECONDS} s of failed liveness probes, ${graceSource}, ${PRESTOP_OVERRUN_SECONDS} s the kubelet adds to an overrunning preStop hook, ${KUBELET_SLACK_SECONDS} s slack), ` +
      `but the agent may fence at most ${allowedMs / 1000} s early with a ${leaseTtlMs / 1000} s lease: ${fixes.join(', or ')}`,
  };
}
