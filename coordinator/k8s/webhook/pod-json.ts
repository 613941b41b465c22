/**
 * The parts of a Pod's JSON (as an AdmissionReview carries it) that injection reads or writes. Plain JSON
 * shapes rather than @kubernetes/client-node's model classes: those rename fields (`exec` is `_exec`),
 * and a JSON Patch must name the fields as the API server spells them.
 */
export interface PodJson {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: PodSpecJson;
}

export interface PodSpecJson {
  containers?: ContainerJson[];
  initContainers?: ContainerJson[];
  volumes?: Array<{ name: string; [field: string]: unknown }>;
  securityContext?: { runAsUser?: number; runAsGroup?: number; [field: string]: unknown };
  terminationGracePeriodSeconds?: number;
  [field: string]: unknown;
}

export interface ContainerJson {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVarJson[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  lifecycle?: { postStart?: LifecycleHandlerJson; preStop?: LifecycleHandlerJson };
  startupProbe?: ProbeJson;
  readinessProbe?: ProbeJson;
  livenessProbe?: ProbeJson;
  securityContext?: Record<string, unknown> & { runAsUser?: number; runAsGroup?: number };
  restartPolicy?: 'Always';
  imagePullPolicy?: string;
  [field: string]: unknown;
}

export type EnvVarJson = { name: string; value: string } | { name: string; valueFrom: { fieldRef: { fieldPath: string } } };

export interface HttpGetJson {
  path: string;
  port: number;
  scheme?: 'HTTP' | 'HTTPS';
  httpHeaders?: Array<{ name: string; value: string }>;
}

export type LifecycleHandlerJson = { httpGet: HttpGetJson } | { exec: { command: string[] } };

export interface ProbeJson {
  httpGet: HttpGetJson;
  periodSeconds: number;
  failureThreshold: number;
  timeoutSeconds?: number;
  /** Overrides the pod's grace period when this (liveness) probe kills the container; GA in 1.28. */
  terminationGracePeriodSeconds?: number;
}
