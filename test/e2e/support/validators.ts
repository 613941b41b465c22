/**
 * Validator StatefulSets from k8s/examples, run on the node. Their clients' images cannot be pulled
 * here, so the client container is swapped for a stand-in running in the keylease image. It asks the
 * agent (its remote signer, at the $KEYLEASE_SIGNER_URL the webhook set) for its public keys once at
 * start and prints the answer; then, like a client with a block duty every slot, it asks for a BLOCK_V2
 * signature of every key the signer serves, each slot of a fast clock (4 slots a second, from the wall
 * clock, so slots only grow across pods), and appends every signature it gets, with its pod, key and
 * slot, to a file on a hostPath volume that outlives the pod. What the webhook injects (agent, volumes,
 * token, preStop hook) is untouched.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { VALIDATORS } from './deploy.js';
import { Kubectl, podReady, waitUntil } from './kube.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const STAND_IN_CLIENT = `
import { appendFileSync } from 'node:fs';
const url = process.env.KEYLEASE_SIGNER_URL;
process.on('SIGTERM', () => process.exit(0));
// Files mode: the keys are files the client would read; nothing to ask a signer.
if (!url) await new Promise(() => setInterval(() => {}, 1 << 30));
const publicKeys = async () => { const r = await fetch(url + '/api/v1/eth2/publicKeys'); return r.ok ? r.json() : 'HTTP ' + r.status; };
console.log(JSON.stringify({ firstKeys: await publicKeys(), atMs: Date.now() }));
const root = (b) => '0x' + b.repeat(32);
const block = (slot) => ({
  type: 'BLOCK_V2',
  fork_info: { fork: { previous_version: '0x04000000', current_version: '0x05000000', epoch: '0' }, genesis_validators_root: process.env.GENESIS_VALIDATORS_ROOT },
  beacon_block: { version: 'CAPELLA', block_header: { slot: String(slot), proposer_index: '1', parent_root: root('11'), state_root: root('22'), body_root: root('ab') } },
});
let last = 0;
for (;;) {
  const slot = Math.floor(Date.now() / 250);
  if (slot > last) {
    last = slot;
    const keys = await publicKeys().catch(() => []);
    for (const key of Array.isArray(keys) ? keys : []) {
      const r = await fetch(url + '/api/v1/eth2/sign/' + key, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(block(slot)) }).catch(() => null);
      if (r?.ok) appendFileSync(process.env.SIGNED_LOG, JSON.stringify({ pod: process.env.POD_NAME, uid: process.env.POD_UID, pubKey: key, slot }) + '\\n');
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
}
`;
/** Mainnet's: the coordinators run without a network flag. */
const MAINNET_GENESIS_VALIDATORS_ROOT = '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95';

export interface SignedBlock {
  readonly pod: string;
  readonly uid: string;
  readonly pubKey: string;
  readonly slot: number;
}

/** Every signature the stand-in clients of StatefulSet `name` got, in order. */
export function signedBlocks(clusterDir: string, name: string): SignedBlock[] {
  const file = join(clusterDir, 'signed', `${name}.jsonl`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as SignedBlock);
}

/** The examples' settings, ServiceAccount and governing Service, and one client's StatefulSet with the stand-in. */
export function exampleValidator(cluster: { readonly dir: string; readonly image: string }, client: 'lodestar' | 'lighthouse' | 'teku' | 'nimbus' | 'prysm' | 'teku-files', name: string, keys: number): any[] {
  const rendered = execFileSync('kubectl', ['kustomize', join(root, 'k8s/examples')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const objects = parseAllDocuments(rendered).map((doc) => doc.toJSON()).filter(Boolean);
  const shared = objects.filter((o) => o.kind !== 'StatefulSet');
  const sts = structuredClone(objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === `${client}-validator`));
  if (!sts) throw new Error(`k8s/examples has no ${client}-validator StatefulSet`);
  sts.metadata.name = name;
  sts.spec.selector.matchLabels = { 'app.kubernetes.io/name': name };
  const template = sts.spec.template;
  template.metadata.labels['app.kubernetes.io/name'] = name;
  template.metadata.annotations['keylease.io/keys'] = String(keys);
  const container = template.spec.containers.find((c: { name: string }) => c.name === (template.metadata.annotations['keylease.io/container'] ?? c.name));
  container.image = cluster.image;
  container.imagePullPolicy = 'Never';
  container.command = ['node', '--input-type=module', '-e', STAND_IN_CLIENT];
  delete container.args;
  const signedDir = join(cluster.dir, 'signed');
  mkdirSync(signedDir, { recursive: true });
  chownSync(signedDir, 10001, 10001);
  container.env = [
    ...(container.env ?? []),
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
    { name: 'GENESIS_VALIDATORS_ROOT', value: MAINNET_GENESIS_VALIDATORS_ROOT },
    { name: 'SIGNED_LOG', value: `/signed/${name}.jsonl` },
  ];
  container.volumeMounts = [...(container.volumeMounts ?? []), { name: 'signed', mountPath: '/signed' }];
  template.spec.volumes = [...(template.spec.volumes ?? []), { name: 'signed', hostPath: { path: signedDir, type: 'Directory' } }];
  return [...shared, sts];
}

export async function validatorPods(kubectl: Kubectl, name: string): Promise<any[]> {
  return (await kubectl.json(['-n', VALIDATORS, 'get', 'pods', '-l', `app.kubernetes.io/name=${name}`])).items;
}

export async function waitForReadyPod(kubectl: Kubectl, podName: string, timeoutMs = 180_000, notUid?: string): Promise<any> {
  return waitUntil(`pod ${podName} ready`, timeoutMs, async () => {
    const pod = await kubectl.find(['-n', VALIDATORS, 'get', 'pod', podName]);
    return pod && podReady(pod) && pod.metadata.uid !== notUid && !pod.metadata.deletionTimestamp ? pod : undefined;
  });
}

/** The stand-in client's first answer from its signer (from its log). */
export async function firstKeys(kubectl: Kubectl, podName: string, container: string): Promise<{ firstKeys: string[] | string; atMs: number }> {
  const log = await kubectl.run(['-n', VALIDATORS, 'logs', podName, '-c', container]);
  const line = log.split('\n').find((l) => l.startsWith('{"firstKeys"'));
  if (!line) throw new Error(`${podName}/${container} has not called its signer yet:\n${log}`);
  return JSON.parse(line);
}
