import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

/**
 * A fresh namespace with a random suffix. It carries the `kubernetes.io/metadata.name` label that API
 * servers from 1.21 set by themselves (1.20 does not), so selectors work as they would on a current cluster.
 */
export async function createTestNamespace(kubeConfig: KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } } });
  return name;
}

/** There is no controller-manager, so no namespace gets a `default` ServiceAccount by itself. */
export async function createServiceAccount(kubeConfig: KubeConfig, namespace: string, name: string): Promise<void> {
  await kubeConfig.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
}

/** A minimal validator pod (it stays Pending: there is no kubelet). */
export function validatorPod(name: string, serviceAccount: string, extra: { annotations?: Record<string, string>; labels?: Record<string, string> } = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations: extra.annotations ?? {}, labels: extra.labels ?? {} },
    spec: {
      serviceAccountName: serviceAccount,
      containers: [{ name: 'lighthouse', image: 'sigp/lighthouse:v5.3.0', args: ['lighthouse', 'vc'] }],
    },
  };
}

/** A token for `serviceAccount` from the TokenRequest API, bound to a pod when `pod` is given (as the kubelet asks for a projected volume). */
export async function requestToken(
  kubeConfig: KubeConfig,
  namespace: string,
  serviceAccount: string,
  options: { audience: string; pod?: { name: string; uid: string }; expirationSeconds?: number },
): Promise<string> {
  const response = await kubeConfig.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: {
      spec: {
        audiences: [options.audience],
        expirationSeconds: options.expirationSeconds ?? 600,
        ...(options.pod ? { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: options.pod.name, uid: options.pod.uid } } : {}),
      },
    },
  });
  return response.status!.token;
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
