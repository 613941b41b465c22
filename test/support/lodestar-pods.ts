import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encryptKeystore } from '../../shared/eth/keystore.js';
import { parseInterchange, watermarks, type Watermarks } from '../../shared/eth/slashing-protection/index.js';
import { fetchAssignments, startCoordinatorProcess, writeSecrets, type AssignmentsJson, type StartedCoordinator } from './coordinator-fixture.js';
import { interopPubkey, interopSecretKey } from './interop-keys.js';
import { SLOTS_PER_EPOCH, type BeaconNode, type ValidatorClient } from './lodestar.js';
import { freePorts } from './ports.js';
import { KeyleaseProcess, type LogRecord } from './processes.js';

/**
 * keylease on a Lodestar dev chain: a pool (one real coordinator process on the chain's network) that
 * holds exactly the interop keys a test names, and pods — a real keylease agent beside a Lodestar
 * validator client — in each of the agent's modes.
 */

/** The dev chain's network as the coordinator takes it (--genesis-*, --seconds-per-slot, --slots-per-epoch). */
export interface DevNetwork {
  readonly genesisValidatorsRoot: string;
  /** The config's GENESIS_FORK_VERSION (deposits and builder registrations are signed for it), not the genesis state's fork. */
  readonly genesisForkVersion: string;
  readonly depositContractAddress: string;
  readonly genesisTime: number;
  readonly secondsPerSlot: number;
  readonly slotsPerEpoch: number;
}

export async function devNetwork(beacon: Pick<BeaconNode, 'restUrl'>): Promise<DevNetwork> {
  const get = async (path: string) => ((await (await fetch(`${beacon.restUrl}${path}`)).json()) as { data: Record<string, string> }).data;
  const [genesis, spec] = await Promise.all([get('/eth/v1/beacon/genesis'), get('/eth/v1/config/spec')]);
  return {
    genesisValidatorsRoot: genesis['genesis_validators_root']!,
    genesisForkVersion: spec['GENESIS_FORK_VERSION']!,
    depositContractAddress: spec['DEPOSIT_CONTRACT_ADDRESS']!,
    genesisTime: Number(genesis['genesis_time']),
    secondsPerSlot: Number(spec['SECONDS_PER_SLOT']),
    slotsPerEpoch: Number(spec['SLOTS_PER_EPOCH'] ?? SLOTS_PER_EPOCH),
  };
}

/** The chain's slot at `ms` (milliseconds since the Unix epoch). */
export function slotAt(network: DevNetwork, ms: number): number {
  return Math.floor((ms / 1000 - network.genesisTime) / network.secondsPerSlot);
}

export interface Pool {
  readonly coordinator: StartedCoordinator;
  /** Public keys of the pool's validators, in the order of `validatorIndices`. */
  readonly pubkeys: readonly string[];
  readonly validatorIndices: readonly number[];
  /** The pool's EIP-3076 watermarks for a key (GET /slashing-protection?pubkey=). */
  watermarks(pubkey: string): Promise<Watermarks>;
  assignments(): Promise<AssignmentsJson & { quarantined: Array<{ pubKey: string; podName: string; cause: string; sinceMs: number }> }>;
  /** The operator's release of quarantined keys (POST /admin/quarantine/release with the confirmation). */
  releaseQuarantine(pubkeys: readonly string[]): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

const KEYSTORE_PASSWORD = 'interop';

/**
 * A coordinator without a mnemonic (so it hands out only the keys given) on `network`, holding interop
 * validators `validatorIndices`, imported through its admin Keymanager API.
 */
export async function startPool(options: { dir: string; network: DevNetwork; validatorIndices: readonly number[]; leaseTtlMs: number; coolingMs: number }): Promise<Pool> {
  const { network } = options;
  const secrets = await writeSecrets(options.dir);
  const dataDir = join(options.dir, 'coordinator');
  const coordinator = await startCoordinatorProcess({
    dataDir,
    kekFile: secrets.kekFile,
    extra: [
      '--genesis-validators-root', network.genesisValidatorsRoot,
      '--genesis-fork-version', network.genesisForkVersion,
      '--deposit-contract-address', network.depositContractAddress,
      '--genesis-time', String(network.genesisTime),
      '--seconds-per-slot', String(network.secondsPerSlot),
      '--slots-per-epoch', String(network.slotsPerEpoch),
      '--lease-ttl-ms', String(options.leaseTtlMs),
      '--cooling-ms', String(options.coolingMs),
    ],
  });
  try {
    const token = (await readFile(join(dataDir, 'api-token.txt'), 'utf8')).trim();
    const admin = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${coordinator.httpBase}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      return { status: response.status, body: (await response.json()) as unknown };
    };
    const pubkeys = options.validatorIndices.map(interopPubkey);
    const keystores = await Promise.all(
      options.validatorIndices.map(async (index, i) => JSON.stringify(await encryptKeystore(KEYSTORE_PASSWORD, interopSecretKey(index), pubkeys[i]!, `m/12381/3600/${index}/0/0`))),
    );
    const imported = await admin('POST', '/eth/v1/keystores', { keystores, passwords: keystores.map(() => KEYSTORE_PASSWORD) });
    const statuses = (imported.body as { data?: Array<{ status: string }> }).data?.map((d) => d.status);
    if (imported.status !== 200 || statuses?.some((status) => status !== 'imported')) throw new Error(`importing the pool's keys answered ${imported.status}: ${JSON.stringify(imported.body)}`);
    return {
      coordinator,
      pubkeys,
      validatorIndices: options.validatorIndices,
      watermarks: async (pubkey) => {
        const exported = await admin('GET', `/slashing-protection?pubkey=${pubkey}`);
        if (exported.status !== 200) throw new Error(`GET /slashing-protection answered ${exported.status}: ${JSON.stringify(exported.body)}`);
        return watermarks(parseInterchange(exported.body), pubkey);
      },
      assignments: () => fetchAssignments(coordinator.httpBase) as ReturnType<Pool['assignments']>,
      releaseQuarantine: (keys) => admin('POST', '/admin/quarantine/release', { pubkeys: keys, confirm: 'the holders stopped signing' }),
      stop: async () => {
        await coordinator.process.kill('SIGKILL');
      },
    };
  } catch (error) {
    await coordinator.process.kill('SIGKILL');
    throw error;
  }
}

/**
 * How the agent gives the keys to its validator client: as its remote signer (registering the keys with
 * the client's /eth/v1/remotekeys), by importing keystores through the client's Keymanager API, or as
 * keystore files in Lodestar's layout that a client reads at start (`filesClientArgs`).
 */
export type AgentMode =
  /** Without a client, the agent only serves its signer (a pod whose client is not up yet). */
  | { readonly kind: 'remote-signer'; readonly client?: ValidatorClient }
  | { readonly kind: 'keymanager'; readonly client: ValidatorClient }
  | { readonly kind: 'files'; readonly outDir: string };

/** A keylease agent process of one pod. */
export interface PodAgent {
  readonly podName: string;
  readonly process: KeyleaseProcess;
  /** Resolves with the "keys claimed and written" record. */
  claimed(timeoutMs: number): Promise<LogRecord>;
  /** POST /prestop on the agent's health port (what the validator container's preStop hook calls). */
  prestop(): Promise<{ status: number; text: string }>;
}

/** The agent of pod `podName`, claiming `keys` keys from `pool` for its client as `mode` says. */
export async function startPodAgent(options: { dir: string; pool: Pool; podName: string; keys: number; mode: AgentMode }): Promise<PodAgent> {
  const { mode } = options;
  const args = ['agent', '--coordinator', options.pool.coordinator.grpcEndpoint, '--pod-name', options.podName, '--keys', String(options.keys), '--health-listen', '127.0.0.1:0', '--log-level', 'debug'];
  if (mode.kind === 'remote-signer') {
    const [signerPort] = await freePorts(1);
    args.push('--signer-listen', `127.0.0.1:${signerPort}`, '--signer-state-dir', join(options.dir, `${options.podName}-signer-state`), '--signer-preset', 'minimal');
  }
  if ((mode.kind === 'remote-signer' || mode.kind === 'keymanager') && mode.client) {
    const tokenFile = join(options.dir, `${options.podName}-keymanager-token`);
    await writeFile(tokenFile, mode.client.keymanagerToken, { mode: 0o600 });
    args.push('--keymanager-url', mode.client.keymanagerUrl, '--keymanager-token-file', tokenFile);
  }
  if (mode.kind === 'files') args.push('--layout', 'lodestar', '--out', mode.outDir);
  const process = new KeyleaseProcess(args);
  return {
    podName: options.podName,
    process,
    claimed: (timeoutMs) => process.waitFor((r) => r.msg === 'keys claimed and written', timeoutMs, `${options.podName} claiming its keys`),
    prestop: async () => {
      const started = await process.waitForMessage('agent started', 30_000);
      const response = await fetch(`http://${String(started['health'])}/prestop`, { method: 'POST' });
      return { status: response.status, text: await response.text() };
    },
  };
}

/** Arguments that make a Lodestar validator client load the keystores a files-mode agent wrote into `outDir` (read once, at start). */
export function filesClientArgs(outDir: string): string[] {
  return ['--keystoresDir', join(outDir, 'keystores'), '--secretsDir', join(outDir, 'secrets')];
}

/** The public keys a Lodestar client lists: its remote keys, or its keystores (GET /eth/v1/remotekeys or /eth/v1/keystores). */
export async function clientKeys(client: ValidatorClient, kind: 'remotekeys' | 'keystores'): Promise<string[]> {
  const response = await fetch(`${client.keymanagerUrl}/eth/v1/${kind}`, { headers: { authorization: `Bearer ${client.keymanagerToken}` } });
  if (!response.ok) throw new Error(`GET /eth/v1/${kind} answered ${response.status}: ${await response.text()}`);
  const listed = ((await response.json()) as { data: Array<{ pubkey?: string; validating_pubkey?: string; readonly?: boolean }> }).data;
  return listed.filter((key) => key.readonly !== true).map((key) => (key.pubkey ?? key.validating_pubkey ?? '').toLowerCase());
}

/** Milliseconds since the Unix epoch at which a keylease process logged `record`. */
export function keyleaseLoggedAt(record: LogRecord): number {
  return Date.parse(String(record['time']));
}
