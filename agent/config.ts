import { resolve } from 'node:path';
import { LOG_LEVEL_FLAGS, logLevelOf, parseListenAddress, type CommandSpec, type FlagValues } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { LAYOUT_NAMES, type LayoutName } from '../shared/eth/layouts/types.js';
import type { LogLevel } from '../shared/log/logger.js';
import { podNameProblem, poolNameProblem } from '../shared/names/pod-name.js';
import { PRESET_NAMES, type PresetName } from '../shared/eth/consensus-preset.js';

export const AGENT_COMMAND: CommandSpec = {
  name: 'agent',
  summary: 'Runs the sidecar of one validator pod: claims keys, writes them for the validator client, renews the lease, fences itself if it cannot, and hands the keys back on SIGTERM.',
  flags: [
    { name: 'coordinator', kind: 'string', required: true, description: 'Coordinator gRPC endpoint(s), HOST:PORT[,HOST:PORT…]; any replica will do.' },
    { name: 'pod-name', kind: 'string', required: true, description: 'Name of the pod this agent serves (a DNS-1123 name).' },
    { name: 'pool', kind: 'string', default: 'default', description: 'Pool to claim keys from.' },
    { name: 'keys', kind: 'int', default: 1, min: 1, max: 10_000, description: 'Number of keys to claim.' },
    { name: 'signer-listen', kind: 'string', description: 'Remote-signer mode (the safe default in Kubernetes): HOST:PORT on the pod\'s loopback where the agent serves the Ethereum remote signing API (Web3Signer-compatible) to the validator client. Keys never leave the agent; it checks every message against EIP-3076 and signs nothing at or after its fence deadline.' },
    { name: 'signer-state-dir', kind: 'string', description: 'With --signer-listen: directory (the pod\'s in-memory volume) where the signer keeps its slashing-protection watermarks, so an agent restarted in the same pod keeps them.' },
    { name: 'signer-preset', kind: 'string', default: 'mainnet', choices: PRESET_NAMES, description: 'With --signer-listen: the consensus preset of the network (minimal for devnets such as lodestar dev).' },
    { name: 'layout', kind: 'string', choices: LAYOUT_NAMES, description: 'On-disk layout of the validator client that reads the keys (with --out). Needed unless --keymanager-url is given. With --signer-listen only lighthouse, whose validator_definitions.yml then lists the keys as web3signer keys.' },
    { name: 'out', kind: 'string', description: 'Directory (an in-memory volume in Kubernetes) to write the keys into, in --layout.' },
    { name: 'keymanager-url', kind: 'string', description: 'The validator client\'s Keymanager API (e.g. http://127.0.0.1:5062): keys are imported and removed through it, with their slashing protection.' },
    { name: 'keymanager-token-file', kind: 'string', description: 'File with the bearer token of --keymanager-url (the client\'s api-token file).' },
    { name: 'keymanager-ca-file', kind: 'string', description: 'For an https:// --keymanager-url with a certificate of its own (Teku\'s, say): that certificate or its CA, PEM. Re-read on every call.' },
    { name: 'keymanager-timeout-ms', kind: 'int', default: 10_000, min: 100, max: 120_000, description: 'Deadline of each call to the Keymanager API.' },
    { name: 'health-listen', kind: 'string', default: '127.0.0.1:8081', description: 'HOST:PORT for /healthz and /readyz (port 0 picks a free port).' },
    { name: 'fence-margin-ms', kind: 'int', default: 0, min: 0, max: 3_600_000, description: 'Fence this long before the lease could lapse; 0 picks max(1 s, TTL/5).' },
    { name: 'token-file', kind: 'string', description: 'The pod\'s projected ServiceAccount token (audience keylease), re-read for every call since the kubelet rotates it, and sent to the coordinator as proof of the pod.' },
    { name: 'tls-ca-file', kind: 'string', description: 'PEM CA that signed the coordinators\' certificates: talk to them over TLS (required wherever the network is not loopback).' },
    { name: 'request-timeout-ms', kind: 'int', default: 5000, min: 100, max: 120_000, description: 'Deadline of each call to the coordinator.' },
    ...LOG_LEVEL_FLAGS,
  ],
};

export interface AgentConfig {
  readonly coordinatorEndpoints: readonly string[];
  readonly podName: string;
  readonly pool: string;
  readonly keyCount: number;
  /** Files for the validator client, if it reads them from a volume. */
  readonly files: { readonly layout: LayoutName; readonly outDir: string } | null;
  /** Remote-signer mode: where the signer listens, and where it keeps its watermarks. */
  readonly signer: { readonly listen: { host: string; port: number }; readonly stateDir: string; readonly preset: PresetName } | null;
  /** The validator client's Keymanager API, if it is managed through it (in signer mode: its remote keys). */
  readonly keymanager: { readonly url: string; readonly tokenFile: string; readonly timeoutMs: number; readonly caFile: string | null } | null;
  readonly health: { host: string; port: number };
  readonly fenceMarginMs: number;
  readonly requestTimeoutMs: number;
  readonly tlsCaFile: string | null;
  readonly tokenFile: string | null;
  readonly logLevel: LogLevel;
}

export function agentConfig(values: FlagValues): AgentConfig {
  const podName = values['pod-name'] as string;
  const podProblem = podNameProblem(podName);
  if (podProblem) throw new ConfigError(`--pod-name: ${podProblem}`);
  const pool = values['pool'] as string;
  const poolProblem = poolNameProblem(pool);
  if (poolProblem) throw new ConfigError(`--pool: ${poolProblem}`);
  const coordinatorEndpoints = (values['coordinator'] as string).split(',').map((e) => e.trim()).filter(Boolean);
  for (const endpoint of coordinatorEndpoints) parseListenAddress(endpoint, 'coordinator');
  if (coordinatorEndpoints.length === 0) throw new ConfigError('--coordinator names no endpoint: give HOST:PORT');
  return {
    coordinatorEndpoints,
    podName,
    pool,
    keyCount: values['keys'] as number,
    signer: signerConfig(values),
    files: filesConfig(values),
    keymanager: keymanagerConfig(values),
    health: parseListenAddress(values['health-listen'] as string, 'health-listen'),
    fenceMarginMs: values['fence-margin-ms'] as number,
    requestTimeoutMs: values['request-timeout-ms'] as number,
    tlsCaFile: (values['tls-ca-file'] as string | undefined) ?? null,
    tokenFile: (values['token-file'] as string | undefined) ?? null,
    logLevel: logLevelOf(values),
  };
}

function signerConfig(values: FlagValues): AgentConfig['signer'] {
  const listen = values['signer-listen'] as string | undefined;
  const stateDir = values['signer-state-dir'] as string | undefined;
  if (!listen) {
    if (stateDir) throw new ConfigError('--signer-state-dir needs --signer-listen');
    return null;
  }
  if (!stateDir) throw new ConfigError('--signer-listen needs --signer-state-dir: a directory on the pod\'s in-memory volume for the signer\'s slashing-protection watermarks');
  const layout = values['layout'] as string | undefined;
  if (layout !== undefined && layout !== 'lighthouse') throw new ConfigError(`--layout ${layout} writes keystores, which --signer-listen keeps in the agent: drop --layout (the client fetches the keys from the signer), or use --layout lighthouse for its web3signer definitions`);
  return { listen: parseListenAddress(listen, 'signer-listen'), stateDir: resolve(stateDir), preset: values['signer-preset'] as PresetName };
}

function filesConfig(values: FlagValues): AgentConfig['files'] {
  const layout = values['layout'] as LayoutName | undefined;
  const out = values['out'] as string | undefined;
  if (!layout && !out) {
    if (!values['keymanager-url'] && !values['signer-listen']) throw new ConfigError('say how the validator client gets the keys: --signer-listen (the agent is its remote signer), --layout and --out (files it reads), or --keymanager-url (its Keymanager API)');
    return null;
  }
  if (!layout || !out) throw new ConfigError('--layout and --out go together: the layout of the validator client, and the directory it reads');
  return { layout, outDir: resolve(out) };
}

function keymanagerConfig(values: FlagValues): AgentConfig['keymanager'] {
  const url = values['keymanager-url'] as string | undefined;
  const tokenFile = values['keymanager-token-file'] as string | undefined;
  const caFile = (values['keymanager-ca-file'] as string | undefined) ?? null;
  if (!url) {
    if (tokenFile) throw new ConfigError('--keymanager-token-file needs --keymanager-url');
    if (caFile) throw new ConfigError('--keymanager-ca-file needs --keymanager-url');
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`--keymanager-url ${JSON.stringify(url.slice(0, 200))} is not a URL: give e.g. http://127.0.0.1:5062`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError('--keymanager-url must be http:// or https://');
  if (!tokenFile) throw new ConfigError('--keymanager-url needs --keymanager-token-file: the validator client\'s API token');
  if (caFile && parsed.protocol !== 'https:') throw new ConfigError('--keymanager-ca-file is for an https:// --keymanager-url; this one is plain http');
  return { url: url.replace(/\/$/, ''), tokenFile, timeoutMs: values['keymanager-timeout-ms'] as number, caFile };
}
