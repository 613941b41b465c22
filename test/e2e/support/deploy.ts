/**
 * keylease deployed into the node cluster as a user would (k8s/README.md, "Without cert-manager"): the
 * Secrets, the webhook's serving certificate, `kubectl kustomize k8s/overlays/dev` applied, the webhook's
 * caBundle patched in. What 1.20 needs besides: PodDisruptionBudgets as policy/v1beta1, the namespace
 * name labels that 1.21+ set by themselves, and hostPath PersistentVolumes for the claims (no
 * provisioner on a bare node). Idempotent: the test files share one deployment, and the first one
 * makes it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { generateMnemonic } from '../../../coordinator/keys/mnemonic-file.js';
import { parseInterchange, watermarks, type Watermarks } from '../../../shared/eth/slashing-protection/index.js';
import { createClusterPki } from './pki.js';
import { Kubectl, waitUntil } from './kube.js';
import type { NodeClusterConnection } from './node-cluster.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const NAMESPACE = 'keylease';
export const VALIDATORS = 'validators';
const PERSISTENT_VOLUMES = 12;
/** The user the coordinator and the examples' clients run as. */
const APP_UID = 10001;

export interface Deployment {
  readonly kubectl: Kubectl;
  /** The admin API token of the coordinators (the keylease-api-token Secret). */
  readonly apiToken: string;
}

export async function ensureKeylease(cluster: NodeClusterConnection): Promise<Deployment> {
  const kubectl = new Kubectl(cluster.kubeconfigFile);
  const existing = await kubectl.find(['-n', NAMESPACE, 'get', 'secret', 'keylease-api-token']);
  if (!existing) await deploy(cluster, kubectl);
  const secret = await kubectl.json(['-n', NAMESPACE, 'get', 'secret', 'keylease-api-token']);
  const apiToken = Buffer.from(secret.data.token, 'base64').toString('utf8');
  await waitUntil('3 ready coordinators and a ready webhook', 300_000, async () => {
    const sts = await kubectl.json(['-n', NAMESPACE, 'get', 'statefulset', 'keylease-coordinator']);
    const webhook = await kubectl.json(['-n', NAMESPACE, 'get', 'deployment', 'keylease-webhook']);
    return sts.status?.readyReplicas === 3 && webhook.status?.readyReplicas >= 1 ? true : undefined;
  }, 1000);
  return { kubectl, apiToken };
}

async function deploy(cluster: NodeClusterConnection, kubectl: Kubectl): Promise<void> {
  const dir = join(cluster.dir, 'keylease-deploy');
  mkdirSync(dir, { recursive: true });
  await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: persistentVolumes(cluster.dir, 'pv', PERSISTENT_VOLUMES) }));
  for (const ns of [NAMESPACE, VALIDATORS]) {
    await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } } }));
  }
  // Secrets (k8s/README.md, Install step 1); values never printed.
  const secret = (name: string, data: Record<string, Buffer | string>, type = 'Opaque') => ({
    apiVersion: 'v1', kind: 'Secret', type, metadata: { name, namespace: NAMESPACE },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const pki = createClusterPki(dir);
  const webhookTls = pki.serving('webhook', ['keylease-webhook.keylease.svc', 'keylease-webhook.keylease.svc.cluster.local'], []);
  await kubectl.apply(JSON.stringify({
    apiVersion: 'v1', kind: 'List', items: [
      secret('keylease-kek', { kek: randomBytes(32) }),
      secret('keylease-mnemonic', { mnemonic: `${generateMnemonic()}\n` }),
      secret('keylease-api-token', { token: randomBytes(32).toString('hex') }),
      secret('keylease-webhook-tls', { 'tls.crt': readFileSync(webhookTls.certFile), 'tls.key': readFileSync(webhookTls.keyFile) }, 'kubernetes.io/tls'),
    ],
  }));
  const rendered = execFileSync('kubectl', ['kustomize', join(root, 'k8s/overlays/dev')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const objects = parseAllDocuments(rendered).map((doc) => doc.toJSON()).filter(Boolean).map((object) => forThisNode(object, readFileSync(pki.caFile), cluster.image));
  await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

/**
 * What this node needs changed in the rendered manifests: the image as built here (what
 * `kustomize edit set image` would do), PDBs in 1.20's API version, the webhook's caBundle.
 */
function forThisNode(object: any, webhookCa: Buffer, image: string): any {
  for (const container of object.spec?.template?.spec?.containers ?? []) {
    if (container.image === 'keylease:dev') container.image = image;
    for (const env of container.env ?? []) if (env.name === 'KEYLEASE_AGENT_IMAGE') env.value = image;
  }
  if (object.kind === 'PodDisruptionBudget' && object.apiVersion === 'policy/v1') return { ...object, apiVersion: 'policy/v1beta1' };
  if (object.kind === 'MutatingWebhookConfiguration') {
    // The caBundle step of k8s/README.md ("Without cert-manager").
    for (const webhook of object.webhooks) webhook.clientConfig.caBundle = webhookCa.toString('base64');
  }
  return object;
}

/** `count` hostPath volumes (no storage class) named after `name`, for the coordinators' and the examples' claims. */
export function persistentVolumes(clusterDir: string, name: string, count: number): object[] {
  return Array.from({ length: count }, (_, i) => {
    const path = join(clusterDir, 'volumes', `${name}-${i}`);
    if (!existsSync(path)) mkdirSync(path, { recursive: true, mode: 0o770 });
    // hostPath volumes are not chowned for fsGroup; the pods run as APP_UID.
    chownSync(path, APP_UID, APP_UID);
    return {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: `keylease-e2e-${name}-${i}` },
      spec: { capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: '', hostPath: { path, type: 'Directory' } },
    };
  });
}

/** The running coordinator pods (ready or not: a node that stopped reporting leaves them unready but serving). */
export async function coordinatorPods(kubectl: Kubectl): Promise<any[]> {
  const list = await kubectl.json(['-n', NAMESPACE, 'get', 'pods', '-l', 'app.kubernetes.io/name=keylease-coordinator']);
  return list.items.filter((pod: any) => pod.status.phase === 'Running' && pod.status.podIP && !pod.metadata.deletionTimestamp);
}

export interface PodAssignment {
  readonly podName: string;
  readonly pool: string;
  readonly leaseId: string;
  readonly pubKeys: string[];
}

export interface Assignments {
  readonly pods: PodAssignment[];
  readonly cooling: Array<{ pubKey: string }>;
  readonly quarantined: Array<{ pubKey: string; podName: string; cause: string }>;
  readonly pools: Record<string, { unallocated: number; allocated: number; cooling: number; quarantined: number }>;
}

/** The leader's HTTP base URL (a follower's /assignments may lag). */
export async function leaderHttp(kubectl: Kubectl): Promise<{ base: string; podName: string }> {
  const pods = await coordinatorPods(kubectl);
  for (const pod of pods) {
    const status = (await (await fetch(`http://${pod.status.podIP}:7401/raft/status`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined))?.json().catch(() => ({ lead: null }))) as { lead: string | null } | undefined;
    if (!status) continue;
    const leader = pods.find((p) => p.metadata.name === status.lead);
    if (leader) return { base: `http://${leader.status.podIP}:7401`, podName: leader.metadata.name };
  }
  throw new Error('no ready coordinator knows a leader');
}

/** The leader's /assignments. */
export async function assignments(kubectl: Kubectl): Promise<Assignments> {
  const { base } = await leaderHttp(kubectl);
  const response = await fetch(`${base}/assignments`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`/assignments answered ${response.status}`);
  return (await response.json()) as Assignments;
}

/** The pool's EIP-3076 watermarks for a key, from the leader's admin API. */
export async function poolWatermarks(deployment: Deployment, pubKey: string): Promise<Watermarks> {
  const { base } = await leaderHttp(deployment.kubectl);
  const response = await fetch(`${base}/slashing-protection?pubkey=${pubKey}`, { headers: { authorization: `Bearer ${deployment.apiToken}` } });
  if (!response.ok) throw new Error(`GET /slashing-protection answered ${response.status}`);
  return watermarks(parseInterchange(await response.json()), pubKey);
}
