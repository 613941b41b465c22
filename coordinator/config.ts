import { join } from 'node:path';
import { LOG_LEVEL_FLAGS, logLevelOf, parseListenAddress, type CommandSpec, type FlagValues } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import type { LogLevel } from '../shared/log/logger.js';
import { poolNameProblem } from '../shared/names/pod-name.js';
import type { PoolSettings } from './core/index.js';
import { executionWithdrawalCredentials } from '../shared/eth/deposit/index.js';
import type { DepositNetwork } from './deposits/deposit-network.js';
import { NETWORK_FLAGS, poolNetwork, requireChainId, type PoolNetwork } from './network-config.js';

/** Two epochs of mainnet: 2 × 32 slots × 12 s. */
export const DEFAULT_COOLING_MS = 2 * 32 * 12 * 1000;

export const COORDINATOR_COMMAND: CommandSpec = {
  name: 'coordinator',
  summary: 'Runs a coordinator replica: keeps the key pool, answers agents over gRPC, serves /assignments and /metrics.',
  flags: [
    { name: 'data-dir', kind: 'string', required: true, description: 'Directory for this replica\'s database.' },
    { name: 'kek-file', kind: 'string', required: true, description: 'File holding the 32-byte key-encryption key (raw, hex or base64). Create one with: head -c 32 /dev/urandom > kek' },
    { name: 'mnemonic-file', kind: 'string', description: 'File holding the pool\'s BIP39 mnemonic, from which new keys are derived (EIP-2333/2334). Without it the pool only serves imported keys.' },
    { name: 'grpc-listen', kind: 'string', default: '127.0.0.1:7400', description: 'HOST:PORT for the agent gRPC API (port 0 picks a free port).' },
    { name: 'http-listen', kind: 'string', default: '127.0.0.1:7401', description: 'HOST:PORT for /assignments, /metrics, /healthz, /readyz.' },
    { name: 'pool', kind: 'string', default: 'default', description: 'Name of the pool this coordinator serves.' },
    { name: 'pool-max-keys', kind: 'int', default: 1000, min: 1, max: 1_000_000, description: 'Most keys the pool may hold, derived and imported together.' },
    { name: 'max-keys-per-claim', kind: 'int', default: 64, min: 1, max: 10_000, description: 'Most keys one pod may claim.' },
    { name: 'lease-ttl-ms', kind: 'int', default: 30_000, min: 2000, max: 3_600_000, description: 'Lease time to live; agents renew every third of it.' },
    ...NETWORK_FLAGS,
    { name: 'deposit-mode', kind: 'string', default: 'none', choices: ['none', 'export', 'submit'], description: 'none: keys are deposited elsewhere and claimable at once; export: likewise, and the leader writes deposit_data files (staking-deposit-cli format) for the keys it derives, into DATA_DIR/deposit-data; submit: the leader makes the 32 ETH deposit of every key it derives, and the key is claimable once it is confirmed.' },
    { name: 'withdrawal-address', kind: 'string', description: 'With --deposit-mode submit or export: the EIP-55 checksummed execution address the deposits\' withdrawal credentials point to (never the zero address).' },
    { name: 'withdrawal-type', kind: 'string', default: '0x01', choices: ['0x01', '0x02'], description: 'Withdrawal credentials prefix: 0x01, or 0x02 (compounding).' },
    { name: 'eth-rpc-url', kind: 'string', description: 'JSON-RPC URL of an execution node of the network. Needed with --deposit-mode submit (deposits go through it); in every mode, derived keys are looked up in the deposit contract\'s DepositEvents through it, so keys already in use are never paid for twice nor handed out.' },
    { name: 'beacon-url', kind: 'string', description: 'Beacon node REST API (e.g. http://beacon:5052): a derived key it knows as a validator counts as in use elsewhere (foreign), like one with a DepositEvent.' },
    { name: 'restore-gap', kind: 'int', default: 20, min: 0, max: 10_000, description: 'When a leader starts, it derives keys past the pool\'s next index and looks each up on chain (--eth-rpc-url, --beacon-url) until this many in a row are unseen: on a fresh or restored data directory with an existing mnemonic, the keys in use enter the pool foreign and derivation continues after them. 0: no scan.' },
    { name: 'funding-key-file', kind: 'string', description: 'With --deposit-mode submit: file holding the 0x-prefixed private key of the wallet that pays the deposits.' },
    { name: 'deposit-confirmations', kind: 'int', default: 12, min: 1, max: 1000, description: 'Blocks on top of a deposit (itself included) before its key is claimable.' },
    { name: 'max-deposits-per-day', kind: 'int', default: 100, min: 1, max: 100_000, description: 'Most deposits signed in any 24 hours: a runaway loop cannot drain the funding wallet.' },
    { name: 'history-retention-ms', kind: 'int', default: 30 * 24 * 3_600_000, min: 0, max: 3650 * 24 * 3_600_000, description: 'How long ended assignments stay in /assignments/history.' },
    { name: 'cooling-ms', kind: 'int', default: DEFAULT_COOLING_MS, min: 0, max: 7 * 24 * 3_600_000, description: 'How long keys of an expired (not released) lease wait before reuse.' },
    { name: 'replica-id', kind: 'string', default: 'r1', description: 'This replica\'s id in the Raft cluster (a DNS-1123 label, e.g. the StatefulSet pod name).' },
    { name: 'peers', kind: 'string', default: '', description: 'The other replicas\' Raft endpoints, ID=HOST:PORT[,ID=HOST:PORT…]. Empty: one replica, with a local log instead of Raft.' },
    { name: 'join', kind: 'bool', default: false, description: 'Start as a new replica of a running cluster: wait to be added as a learner (keylease cluster add) instead of counting as a voter.' },
    { name: 'raft-listen', kind: 'string', default: '127.0.0.1:7402', description: 'HOST:PORT for Raft traffic from the other replicas.' },
    { name: 'raft-advertise', kind: 'string', default: '', description: 'HOST:PORT the other replicas reach this one\'s Raft port at (default: --raft-listen).' },
    { name: 'grpc-advertise', kind: 'string', default: '', description: 'HOST:PORT agents reach this replica at, told to agents that ask a follower (default: --grpc-listen).' },
    { name: 'tick-ms', kind: 'int', default: 100, min: 5, max: 10_000, description: 'One Raft tick; a leader heartbeats every tick.' },
    { name: 'election-ticks', kind: 'int', default: 10, min: 3, max: 1000, description: 'Ticks without a leader before a follower campaigns (randomized up to twice this).' },
    { name: 'shed-above-ms', kind: 'int', default: 50, min: 1, max: 10_000, description: 'When the p99 event loop delay over half a second passes this (CPU pressure), background work waits (key derivation, deposit rounds, /assignments pages) so renewals are answered first; it resumes below half of it.' },
    { name: 'snapshot-every', kind: 'int', default: 10_000, min: 10, max: 10_000_000, description: 'Snapshot the state and compact the log after this many entries.' },
    { name: 'pool-policy-file', kind: 'string', description: 'Pool policy (YAML/JSON: which namespaces and service accounts may claim from which pool). Turns on Kubernetes pod identity: agents must send their projected ServiceAccount token, checked with TokenReview. Reloaded when it changes. Without it (development), agents are trusted to name their pod.' },
    { name: 'token-audience', kind: 'string', default: 'keylease', description: 'Audience of the agents\' projected ServiceAccount tokens.' },
    { name: 'kubeconfig', kind: 'string', description: 'Kubeconfig for TokenReview and pod reads (default: the pod\'s own ServiceAccount).' },
    { name: 'api-token-file', kind: 'string', description: 'Bearer token of the admin endpoints (default: DATA_DIR/api-token.txt, created on first start).' },
    { name: 'tls-ca-file', kind: 'string', description: 'PEM CA for TLS (with --tls-cert-file and --tls-key-file): agents are served over TLS, the HTTP port serves HTTPS (the admin API carries keystores and passwords), and replicas accept only peers whose certificates it signed (mutual TLS). All three files are re-read when they change.' },
    { name: 'tls-cert-file', kind: 'string', description: 'PEM certificate of this replica, for agents and peers; its names must cover the advertised hosts.' },
    { name: 'tls-key-file', kind: 'string', description: 'PEM private key of --tls-cert-file.' },
    ...LOG_LEVEL_FLAGS,
  ],
};

export interface DepositConfig {
  readonly mode: 'export' | 'submit';
  readonly withdrawalCredentials: Uint8Array;
  /** Empty in export mode, which sends nothing. */
  readonly fundingKeyFile: string;
  readonly confirmations: number;
  readonly maxDepositsPerDay: number;
}

/** Where the pool looks derived keys up before it pays for or hands out one that may be in use elsewhere. */
export interface ChainConfig {
  /** Execution endpoint: deposits, and the deposit contract's DepositEvents. */
  readonly rpcUrl: string | null;
  /** The network as the endpoint must serve it (chain id checked); set with rpcUrl. */
  readonly depositNetwork: (DepositNetwork & { readonly depositContractBlock: number }) | null;
  readonly beaconUrl: string | null;
  /** Unseen keys in a row that end a leader's restore scan; 0: no scan. */
  readonly restoreGap: number;
}

export interface RaftConfig {
  readonly replicaId: string;
  readonly peers: ReadonlyMap<string, string>;
  readonly join: boolean;
  readonly listen: { host: string; port: number };
  readonly advertisedRaftAddress: string;
  readonly agentEndpoint: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly snapshotEvery: number;
}

export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface CoordinatorConfig {
  readonly dataDir: string;
  readonly kekFile: string;
  readonly mnemonicFile: string | null;
  readonly grpc: { host: string; port: number };
  readonly http: { host: string; port: number };
  readonly pool: string;
  readonly poolSettings: PoolSettings;
  readonly network: PoolNetwork;
  /** Null when neither an execution endpoint nor a beacon node is configured. */
  readonly chain: ChainConfig | null;
  /** The network's genesis fork version, told to remote-signer agents (validator registrations are signed for it). */
  readonly genesisForkVersion: string;
  readonly logLevel: LogLevel;
  readonly apiTokenFile: string | null;
  /** Null unless the pool makes its own deposits (--deposit-mode submit). */
  readonly deposits: DepositConfig | null;
  /** Null: plaintext (loopback development only). */
  readonly tls: TlsFiles | null;
  /** Null: no Kubernetes pod identity (development). */
  readonly kubernetes: { readonly policyFile: string; readonly audience: string; readonly kubeconfigFile: string | null } | null;
  /** Null for a single replica, which keeps a local log instead of running Raft. */
  readonly raft: RaftConfig | null;
  /** Event loop delay (p99, ms) above which background work is held back. */
  readonly shedAboveMs: number;
}

export function coordinatorConfig(values: FlagValues): CoordinatorConfig {
  const pool = values['pool'] as string;
  const problem = poolNameProblem(pool);
  if (problem) throw new ConfigError(`--pool: ${problem}`);
  const mnemonicFile = (values['mnemonic-file'] as string | undefined) ?? null;
  const grpc = parseListenAddress(values['grpc-listen'] as string, 'grpc-listen');
  const network = poolNetwork(values);
  return {
    dataDir: values['data-dir'] as string,
    kekFile: values['kek-file'] as string,
    mnemonicFile,
    grpc,
    http: parseListenAddress(values['http-listen'] as string, 'http-listen'),
    pool,
    poolSettings: {
      derive: mnemonicFile !== null,
      maxKeys: values['pool-max-keys'] as number,
      maxKeysPerClaim: values['max-keys-per-claim'] as number,
      leaseTtlMs: values['lease-ttl-ms'] as number,
      coolingMs: values['cooling-ms'] as number,
      genesisValidatorsRoot: network.genesisValidatorsRoot,
      historyRetentionMs: values['history-retention-ms'] as number,
      depositMode: values['deposit-mode'] as 'none' | 'export' | 'submit',
      ...(network.slotClock ?? {}),
    },
    genesisForkVersion: network.genesisForkVersion,
    logLevel: logLevelOf(values),
    apiTokenFile: (values['api-token-file'] as string | undefined) ?? null,
    network,
    chain: chainConfig(values, network),
    deposits: depositConfig(values),
    tls: tlsFiles(values),
    kubernetes: values['pool-policy-file']
      ? { policyFile: values['pool-policy-file'] as string, audience: values['token-audience'] as string, kubeconfigFile: (values['kubeconfig'] as string | undefined) ?? null }
      : null,
    raft: raftConfig(values, grpc),
    shedAboveMs: values['shed-above-ms'] as number,
  };
}

function raftConfig(values: FlagValues, grpc: { host: string; port: number }): RaftConfig | null {
  const replicaId = values['replica-id'] as string;
  const idProblem = poolNameProblem(replicaId);
  if (idProblem) throw new ConfigError(`--replica-id: ${idProblem.replace('pool name', 'replica id')}`);
  const peers = parsePeers(values['peers'] as string, replicaId);
  const join = values['join'] as boolean;
  if (peers.size === 0) {
    if (join) throw new ConfigError('--join needs --peers: the replicas of the cluster to join');
    return null;
  }
  const listen = parseListenAddress(values['raft-listen'] as string, 'raft-listen');
  const raftAdvertise = (values['raft-advertise'] as string) || (values['raft-listen'] as string);
  const grpcAdvertise = (values['grpc-advertise'] as string) || (values['grpc-listen'] as string);
  parseListenAddress(raftAdvertise, 'raft-advertise');
  const advertised = parseListenAddress(grpcAdvertise, 'grpc-advertise');
  if (advertised.port === 0 || grpc.port === 0 || listen.port === 0) {
    throw new ConfigError('with --peers, give fixed ports: the other replicas and agents must know where this one listens (--grpc-listen, --raft-listen, or their --*-advertise twins)');
  }
  return {
    replicaId,
    peers,
    join,
    listen,
    advertisedRaftAddress: raftAdvertise,
    agentEndpoint: grpcAdvertise,
    tickMs: values['tick-ms'] as number,
    electionTicks: values['election-ticks'] as number,
    snapshotEvery: values['snapshot-every'] as number,
  };
}

function depositConfig(values: FlagValues): DepositConfig | null {
  const mode = values['deposit-mode'] as string;
  if (mode !== 'submit' && mode !== 'export') return null;
  if (!values['mnemonic-file']) throw new ConfigError(`--deposit-mode ${mode} needs --mnemonic-file: only keys the pool derives get deposit data from it`);
  const required = (name: string) => {
    const value = values[name] as string | undefined;
    if (!value) throw new ConfigError(`--deposit-mode ${mode} needs --${name}`);
    return value;
  };
  let withdrawalCredentials: Uint8Array;
  try {
    withdrawalCredentials = executionWithdrawalCredentials(required('withdrawal-address'), values['withdrawal-type'] === '0x02' ? 0x02 : 0x01);
  } catch (error) {
    throw new ConfigError(`--withdrawal-address: ${(error as Error).message}`);
  }
  if (mode === 'submit') required('eth-rpc-url');
  return {
    mode,
    withdrawalCredentials,
    // Export mode sends nothing: no wallet.
    fundingKeyFile: mode === 'submit' ? required('funding-key-file') : '',
    confirmations: values['deposit-confirmations'] as number,
    maxDepositsPerDay: values['max-deposits-per-day'] as number,
  };
}

function chainConfig(values: FlagValues, network: PoolNetwork): ChainConfig | null {
  const rpcUrl = (values['eth-rpc-url'] as string | undefined) || null;
  const beaconUrl = (values['beacon-url'] as string | undefined) || null;
  if (rpcUrl === null && beaconUrl === null) return null;
  if (beaconUrl !== null && !/^https?:\/\/[^/]+/.test(beaconUrl)) throw new ConfigError(`--beacon-url ${JSON.stringify(beaconUrl.slice(0, 80))} is not an http(s) URL`);
  const depositNetwork =
    rpcUrl === null
      ? null
      : {
          name: network.name,
          chainId: requireChainId(network, '--eth-rpc-url on a custom network'),
          genesisForkVersion: network.genesisForkVersion,
          depositContractAddress: network.depositContractAddress,
          depositContractBlock: network.depositContractBlock,
        };
  return { rpcUrl, depositNetwork, beaconUrl, restoreGap: values['restore-gap'] as number };
}

function tlsFiles(values: FlagValues): TlsFiles | null {
  const [caFile, certFile, keyFile] = ['tls-ca-file', 'tls-cert-file', 'tls-key-file'].map((name) => values[name] as string | undefined);
  if (!caFile && !certFile && !keyFile) return null;
  if (!caFile || !certFile || !keyFile) throw new ConfigError('give all three of --tls-ca-file, --tls-cert-file and --tls-key-file, or none');
  return { caFile, certFile, keyFile };
}

/** Parses ID=HOST:PORT,… into a map, refusing duplicates and this replica's own id. */
export function parsePeers(text: string, replicaId: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const item of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const id = item.slice(0, eq);
    const address = item.slice(eq + 1);
    if (eq <= 0 || poolNameProblem(id)) throw new ConfigError(`--peers entry ${JSON.stringify(item)} is not ID=HOST:PORT with a DNS-1123 label as ID`);
    parseListenAddress(address, 'peers');
    if (id === replicaId) throw new ConfigError(`--peers lists this replica (${id}) itself: list only the others`);
    if (peers.has(id)) throw new ConfigError(`--peers lists ${id} twice`);
    peers.set(id, address);
  }
  return peers;
}

export const replicaDirectory = (dataDir: string) => join(dataDir, 'replica');
export const raftDirectory = (dataDir: string) => join(dataDir, 'raft');
