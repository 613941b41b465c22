/**
 * A real Lodestar 1.5.1 in the node cluster: the installed copy (scripts/lodestar/install.sh's cache)
 * mounted read-only by hostPath into pods of the project's image, whose Node 20 runs it (the cache's
 * native modules were built by the machine's Node 20, the same ABI). A `lodestar dev` beacon node
 * (Deployment and Service) and the Lodestar validator StatefulSet of k8s/examples, on one dev chain:
 * minimal preset, 2 s slots, Altair from genesis (so the signer's preset matters: minimal-sized sync
 * aggregates in every block, a sync committee message from every validator every slot).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { LODESTAR_MISSING, lodestarBinary, type LodestarLogRecord } from '../../support/lodestar.js';
import { Kubectl, waitUntil } from './kube.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const LODESTAR_MOUNT = '/lodestar';
const LODESTAR_CLI = `${LODESTAR_MOUNT}/node_modules/@chainsafe/lodestar/lib/index.js`;
const REST_PORT = 9596;
/**
 * Named lodestar-… on purpose: with service links, Kubernetes gives every pod of the namespace this
 * Service's address as LODESTAR_BEACON_SERVICE_HOST and the like, which Lodestar takes for unknown
 * command-line options and exits. The example's pod turns service links off (k8s/examples/lodestar.yaml);
 * this name checks that it still does.
 */
const SERVICE = 'lodestar-beacon';
const SERVICE_PORT = 5052;
/** The chain's parameters, given alike to the beacon node and every validator client. */
export const SECONDS_PER_SLOT = 2;
const PARAM_ARGS = [`--params.SECONDS_PER_SLOT=${SECONDS_PER_SLOT}`, '--params.ALTAIR_FORK_EPOCH=0'];
const APP_UID = 10001;

/** The installed Lodestar's folder (the one holding node_modules); throws what to run when it is not installed. */
export function lodestarCacheDir(): string {
  const binary = lodestarBinary();
  if (!binary) throw new Error(`${LODESTAR_MISSING}; test/e2e/08 runs it in pods from that cache`);
  // <cache>/node_modules/.bin/lodestar
  const dir = resolve(dirname(binary), '..', '..');
  if (!existsSync(join(dir, 'node_modules', '@chainsafe', 'lodestar', 'lib', 'index.js'))) throw new Error(`${binary} is not in an installed Lodestar's node_modules/.bin: ${LODESTAR_MISSING}`);
  return dir;
}

export interface ClusterBeacon {
  /** The beacon API at its pod's address (for the tests). */
  readonly restUrl: string;
  /** The beacon API through its Service (for the validator clients). */
  readonly serviceUrl: string;
  readonly podName: string;
}

/**
 * `lodestar dev` with interop validators 0..genesisValidators-1, running `ownValidators` itself (its
 * backbone: a dev chain that makes no block for 8 slots stalls for good). Resolves once its API serves the
 * genesis.
 */
export async function startClusterBeacon(kubectl: Kubectl, options: { image: string; namespace: string; lodestarDir: string; genesisValidators: number; ownValidators: readonly [number, number] }): Promise<ClusterBeacon> {
  const name = 'lodestar-beacon';
  const labels = { 'app.kubernetes.io/name': name };
  const args = [
    'dev',
    `--genesisValidators=${options.genesisValidators}`,
    `--startValidators=${options.ownValidators[0]}..${options.ownValidators[1]}`,
    // Its own validators reach it through --server (they would look for the default port otherwise).
    `--server=http://127.0.0.1:${REST_PORT}`,
    '--dataDir=/beacon',
    '--rest.address=0.0.0.0', `--rest.port=${REST_PORT}`,
    '--listenAddress=127.0.0.1', '--port=9000', '--discv5=false',
    '--logFormat=json', '--logLevel=info', '--logFile=none',
    ...PARAM_ARGS,
  ];
  await kubectl.apply(JSON.stringify({
    apiVersion: 'v1', kind: 'List', items: [
      {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: options.namespace },
        spec: {
          replicas: 1, selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              securityContext: { runAsNonRoot: true, runAsUser: APP_UID, runAsGroup: APP_UID },
              enableServiceLinks: false,
              containers: [{
                name: 'beacon', image: options.image, imagePullPolicy: 'Never',
                command: ['node', LODESTAR_CLI], args,
                env: [{ name: 'LODESTAR_PRESET', value: 'minimal' }],
                // `dev` writes genesis.ssz into its working directory.
                workingDir: '/beacon',
                ports: [{ name: 'rest', containerPort: REST_PORT }],
                readinessProbe: { tcpSocket: { port: REST_PORT }, periodSeconds: 2 },
                volumeMounts: [{ name: 'lodestar', mountPath: LODESTAR_MOUNT, readOnly: true }, { name: 'beacon', mountPath: '/beacon' }],
              }],
              volumes: [{ name: 'lodestar', hostPath: { path: options.lodestarDir, type: 'Directory' } }, { name: 'beacon', emptyDir: {} }],
            },
          },
        },
      },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: SERVICE, namespace: options.namespace }, spec: { selector: labels, ports: [{ name: 'rest', port: SERVICE_PORT, targetPort: 'rest' }] } },
    ],
  }));
  return waitUntil('the dev beacon node serving its genesis', 180_000, async () => {
    const pods = (await kubectl.json(['-n', options.namespace, 'get', 'pods', '-l', `app.kubernetes.io/name=${name}`])).items.filter((p: any) => p.status.podIP && !p.metadata.deletionTimestamp);
    const pod = pods[0];
    if (!pod) return undefined;
    const restUrl = `http://${pod.status.podIP}:${REST_PORT}`;
    const response = await fetch(`${restUrl}/eth/v1/beacon/genesis`, { signal: AbortSignal.timeout(2000) });
    return response.ok ? { restUrl, serviceUrl: `http://${SERVICE}.${options.namespace}.svc:${SERVICE_PORT}`, podName: pod.metadata.name as string } : undefined;
  }, 1000);
}

/**
 * k8s/examples' settings, ServiceAccount, governing Service and Lodestar StatefulSet, in `namespace`,
 * changed only where this cluster and chain force it: the image (the project's, running the mounted
 * Lodestar), the beacon node's URL, `--network=dev` with the chain's parameters and preset instead of
 * mainnet; and, to read what the client signed, its log as JSON in a file per pod (`logFile(dir, uid)`) on
 * a hostPath volume that outlives the pod. Everything keylease reads (annotations, user, grace period,
 * `--externalSigner.url=$(KEYLEASE_SIGNER_URL) --externalSigner.fetch`) is the example's.
 */
export function exampleLodestarValidator(options: { image: string; namespace: string; lodestarDir: string; beaconUrl: string; logDir: string }): any[] {
  const rendered = execFileSync('kubectl', ['kustomize', join(root, 'k8s/examples')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const objects = parseAllDocuments(rendered).map((doc) => doc.toJSON()).filter(Boolean);
  const shared = objects.filter((o) => o.kind !== 'StatefulSet');
  const sts = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'lodestar-validator');
  if (!sts) throw new Error('k8s/examples has no lodestar-validator StatefulSet');
  for (const object of [...shared, sts]) object.metadata.namespace = options.namespace;
  const settings = shared.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'validator-settings');
  settings.data.BEACON_NODE_URL = options.beaconUrl;
  const template = sts.spec.template;
  const container = template.spec.containers.find((c: { name: string }) => c.name === template.metadata.annotations['keylease.io/container']);
  container.image = options.image;
  container.imagePullPolicy = 'Never';
  container.command = ['node', LODESTAR_CLI];
  if (!container.args.includes('--network=mainnet')) throw new Error(`k8s/examples' Lodestar args changed (no --network=mainnet to replace): ${container.args.join(' ')}`);
  container.args = [
    ...container.args.map((arg: string) => (arg === '--network=mainnet' ? '--network=dev' : arg)),
    ...PARAM_ARGS,
    '--logFormat=json', '--logFile=/lodestar-logs/$(POD_UID).log', '--logFileLevel=debug', '--logFileDailyRotate=0',
  ];
  container.env = [...(container.env ?? []), { name: 'LODESTAR_PRESET', value: 'minimal' }, { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } }];
  container.volumeMounts = [...container.volumeMounts, { name: 'lodestar', mountPath: LODESTAR_MOUNT, readOnly: true }, { name: 'lodestar-logs', mountPath: '/lodestar-logs' }];
  mkdirSync(options.logDir, { recursive: true });
  chownSync(options.logDir, APP_UID, APP_UID);
  template.spec.volumes = [
    ...(template.spec.volumes ?? []),
    { name: 'lodestar', hostPath: { path: options.lodestarDir, type: 'Directory' } },
    { name: 'lodestar-logs', hostPath: { path: options.logDir, type: 'Directory' } },
  ];
  return [...shared, sts];
}

/** The JSON log records a validator pod's client wrote to its log file (none before it started). */
export function clientLog(logDir: string, podUid: string): LodestarLogRecord[] {
  const file = join(logDir, `${podUid}.log`);
  if (!existsSync(file)) return [];
  const records: LodestarLogRecord[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as LodestarLogRecord);
    } catch {
      // A line still being written.
    }
  }
  return records;
}

/** The public keys the client logged taking from its external signer at start ("External signers on URL: …", then one key a line). */
export function externalSignerKeys(records: readonly LodestarLogRecord[]): { url: string; pubkeys: string[] } | undefined {
  const at = records.findIndex((r) => r.message.startsWith('External signers on URL: '));
  if (at < 0) return undefined;
  const pubkeys: string[] = [];
  for (const record of records.slice(at + 1)) {
    if (!/^0x[0-9a-f]{96}$/.test(record.message)) break;
    pubkeys.push(record.message);
  }
  return { url: records[at]!.message.slice('External signers on URL: '.length), pubkeys };
}
