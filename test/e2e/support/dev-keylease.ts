/**
 * A second keylease installation, for a dev chain: `k8s/overlays/dev` rendered into namespace
 * keylease-dev, granting and injecting validator namespace validators-dev only, its coordinator told the
 * chain (genesis validators root, fork version, deposit contract, genesis time, 2 s slots of an 8-slot
 * epoch) and its webhook the minimal preset (--agent-signer-preset). One coordinator replica (a local
 * log: the dev chain's pool needs no quorum to show a real client signing), no mnemonic, so the pool
 * holds only the interop keys the test imports. The first installation's webhook is told to leave the
 * new namespaces alone (k8s/README.md: one webhook injects each pod). What 1.20 and a bare node need is
 * as in deploy.ts.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { encryptKeystore } from '../../../shared/eth/keystore.js';
import { parseInterchange, watermarks, type Watermarks } from '../../../shared/eth/slashing-protection/index.js';
import { interopPubkey, interopSecretKey } from '../../support/interop-keys.js';
import type { DevNetwork } from '../../support/lodestar-pods.js';
import { NAMESPACE, persistentVolumes, type Assignments } from './deploy.js';
import { Kubectl, waitUntil } from './kube.js';
import type { NodeClusterConnection } from './node-cluster.js';
import { createClusterPki } from './pki.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
export const DEV_NAMESPACE = 'keylease-dev';
export const DEV_VALIDATORS = 'validators-dev';
/** Where the injected agents find this installation's coordinator. */
const DEV_COORDINATOR = `keylease-coordinator.${DEV_NAMESPACE}.svc:7400`;
const KEYSTORE_PASSWORD = 'interop';

export interface DevKeylease {
  /** The coordinator's HTTP API (its pod's address). */
  readonly httpBase: string;
  readonly pubkeys: readonly string[];
  assignments(): Promise<Assignments>;
  /** The pool's EIP-3076 watermarks for a key. */
  watermarks(pubkey: string): Promise<Watermarks>;
}

/** Deploys the installation for `network`, waits for it, and imports interop validators `indices` into its pool. */
export async function deployDevKeylease(cluster: NodeClusterConnection, kubectl: Kubectl, network: DevNetwork, indices: readonly number[]): Promise<DevKeylease> {
  const dir = join(cluster.dir, 'keylease-dev-deploy');
  mkdirSync(dir, { recursive: true });
  await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: persistentVolumes(cluster.dir, 'dev-pv', 2) }));
  for (const ns of [DEV_NAMESPACE, DEV_VALIDATORS]) {
    await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } } }));
  }
  await excludeFromFirstInstallation(kubectl);
  const apiToken = randomBytes(32).toString('hex');
  const secret = (name: string, data: Record<string, Buffer | string>, type = 'Opaque') => ({
    apiVersion: 'v1', kind: 'Secret', type, metadata: { name, namespace: DEV_NAMESPACE },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const pki = createClusterPki(dir);
  const webhookTls = pki.serving('webhook', [`keylease-webhook.${DEV_NAMESPACE}.svc`, `keylease-webhook.${DEV_NAMESPACE}.svc.cluster.local`], []);
  await kubectl.apply(JSON.stringify({
    apiVersion: 'v1', kind: 'List', items: [
      secret('keylease-kek', { kek: randomBytes(32) }),
      secret('keylease-api-token', { token: apiToken }),
      secret('keylease-webhook-tls', { 'tls.crt': readFileSync(webhookTls.certFile), 'tls.key': readFileSync(webhookTls.keyFile) }, 'kubernetes.io/tls'),
    ],
  }));
  const rendered = execFileSync('kubectl', ['kustomize', join(root, 'k8s/overlays/dev')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const objects = parseAllDocuments(rendered).map((doc) => doc.toJSON()).filter(Boolean).map((object) => forDevChain(object, readFileSync(pki.caFile), cluster.image, network));
  await kubectl.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));

  const httpBase = await waitUntil('the dev coordinator and webhook ready', 300_000, async () => {
    const sts = await kubectl.json(['-n', DEV_NAMESPACE, 'get', 'statefulset', 'keylease-coordinator']);
    const webhook = await kubectl.json(['-n', DEV_NAMESPACE, 'get', 'deployment', 'keylease-webhook']);
    if (sts.status?.readyReplicas !== 1 || !(webhook.status?.readyReplicas >= 1)) return undefined;
    const pod = await kubectl.json(['-n', DEV_NAMESPACE, 'get', 'pod', 'keylease-coordinator-0']);
    return pod.status.podIP ? `http://${pod.status.podIP}:7401` : undefined;
  }, 1000);
  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${httpBase}${path}`, { method, headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const pubkeys = indices.map(interopPubkey);
  const keystores = await Promise.all(indices.map(async (index, i) => JSON.stringify(await encryptKeystore(KEYSTORE_PASSWORD, interopSecretKey(index), pubkeys[i]!, `m/12381/3600/${index}/0/0`))));
  const imported = await admin('POST', '/eth/v1/keystores', { keystores, passwords: keystores.map(() => KEYSTORE_PASSWORD) });
  const statuses = (imported.body as { data?: Array<{ status: string }> }).data?.map((d) => d.status);
  if (imported.status !== 200 || statuses?.some((status) => status !== 'imported')) throw new Error(`importing the dev pool's keys answered ${imported.status}: ${JSON.stringify(imported.body)}`);
  return {
    httpBase,
    pubkeys,
    assignments: async () => {
      const response = await fetch(`${httpBase}/assignments`, { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error(`/assignments answered ${response.status}`);
      return (await response.json()) as Assignments;
    },
    watermarks: async (pubkey) => {
      const exported = await admin('GET', `/slashing-protection?pubkey=${pubkey}`);
      if (exported.status !== 200) throw new Error(`GET /slashing-protection answered ${exported.status}: ${JSON.stringify(exported.body)}`);
      return watermarks(parseInterchange(exported.body), pubkey);
    },
  };
}

/** The first installation (deploy.ts), if there is one, stops injecting the dev namespaces. */
async function excludeFromFirstInstallation(kubectl: Kubectl): Promise<void> {
  const config = await kubectl.find(['get', 'mutatingwebhookconfiguration', 'keylease-inject']);
  if (!config) return;
  const patch: object[] = [];
  config.webhooks.forEach((webhook: any, w: number) => {
    (webhook.namespaceSelector?.matchExpressions ?? []).forEach((expression: any, e: number) => {
      if (expression.key !== 'kubernetes.io/metadata.name' || expression.operator !== 'NotIn') return;
      for (const ns of [DEV_NAMESPACE, DEV_VALIDATORS]) {
        if (!expression.values.includes(ns)) patch.push({ op: 'add', path: `/webhooks/${w}/namespaceSelector/matchExpressions/${e}/values/-`, value: ns });
      }
    });
  });
  if (patch.length) await kubectl.run(['patch', 'mutatingwebhookconfiguration', 'keylease-inject', '--type=json', '-p', JSON.stringify(patch)]);
}

/**
 * The rendered overlay moved to the dev namespaces (cluster-wide objects renamed), with the chain's
 * settings; and what this node needs, as deploy.ts does.
 */
function forDevChain(rendered: any, webhookCa: Buffer, image: string, network: DevNetwork): any {
  const moved = JSON.parse(
    JSON.stringify(rendered)
      .replaceAll('"namespace":"keylease"', `"namespace":"${DEV_NAMESPACE}"`)
      .replaceAll('"namespace":"validators"', `"namespace":"${DEV_VALIDATORS}"`)
      .replaceAll('.keylease.svc', `.${DEV_NAMESPACE}.svc`)
      // The pool policy's grant.
      .replaceAll('- namespace: validators\\n', `- namespace: ${DEV_VALIDATORS}\\n`),
  );
  const { kind } = moved;
  if (kind === 'Namespace') {
    moved.metadata.name = moved.metadata.name === NAMESPACE ? DEV_NAMESPACE : DEV_VALIDATORS;
    // The label the webhook's namespaceSelector matches (set by the API server itself from 1.21 on); applied
    // without it, the Namespace would lose it.
    moved.metadata.labels = { ...moved.metadata.labels, 'kubernetes.io/metadata.name': moved.metadata.name };
  }
  if (kind === 'ClusterRole' || kind === 'ClusterRoleBinding' || kind === 'MutatingWebhookConfiguration') moved.metadata.name += '-dev';
  if (kind === 'ClusterRoleBinding') moved.roleRef.name += '-dev';
  if (kind === 'PodDisruptionBudget' && moved.apiVersion === 'policy/v1') moved.apiVersion = 'policy/v1beta1';
  if (kind === 'MutatingWebhookConfiguration') {
    for (const webhook of moved.webhooks) {
      webhook.clientConfig.caBundle = webhookCa.toString('base64');
      webhook.namespaceSelector = { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [DEV_VALIDATORS] }] };
    }
  }
  for (const container of moved.spec?.template?.spec?.containers ?? []) {
    if (container.image === 'keylease:dev') container.image = image;
    for (const env of container.env ?? []) if (env.name === 'KEYLEASE_AGENT_IMAGE') env.value = image;
  }
  if (kind === 'StatefulSet' && moved.metadata.name === 'keylease-coordinator') {
    moved.spec.replicas = 1;
    const coordinator = moved.spec.template.spec.containers[0];
    // No mnemonic: the pool holds only the imported keys, as the base alone (without the dev overlay's
    // derived-keys component) would have it.
    coordinator.env = coordinator.env.filter((e: { name: string }) => e.name !== 'KEYLEASE_MNEMONIC_FILE');
    coordinator.volumeMounts = coordinator.volumeMounts.filter((m: { name: string }) => m.name !== 'mnemonic');
    moved.spec.template.spec.volumes = moved.spec.template.spec.volumes.filter((v: { name: string }) => v.name !== 'mnemonic');
    const allPeers = coordinator.env.find((e: { name: string }) => e.name === 'ALL_PEERS');
    allPeers.value = `keylease-coordinator-0=keylease-coordinator-0.keylease-peers.${DEV_NAMESPACE}.svc:7402`;
    coordinator.env.push(
      { name: 'KEYLEASE_GENESIS_VALIDATORS_ROOT', value: network.genesisValidatorsRoot },
      { name: 'KEYLEASE_GENESIS_FORK_VERSION', value: network.genesisForkVersion },
      { name: 'KEYLEASE_DEPOSIT_CONTRACT_ADDRESS', value: network.depositContractAddress },
      { name: 'KEYLEASE_GENESIS_TIME', value: String(network.genesisTime) },
      { name: 'KEYLEASE_SECONDS_PER_SLOT', value: String(network.secondsPerSlot) },
      { name: 'KEYLEASE_SLOTS_PER_EPOCH', value: String(network.slotsPerEpoch) },
    );
  }
  if (kind === 'Deployment' && moved.metadata.name === 'keylease-webhook') {
    const webhook = moved.spec.template.spec.containers[0];
    webhook.args = [...webhook.args, '--agent-signer-preset', 'minimal'];
    const coordinator = webhook.env.find((e: { name: string }) => e.name === 'KEYLEASE_COORDINATOR');
    if (coordinator.value !== DEV_COORDINATOR) throw new Error(`the dev webhook would send agents to ${coordinator.value}, not ${DEV_COORDINATOR}`);
  }
  return moved;
}
