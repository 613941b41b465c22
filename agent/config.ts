import { resolve } from 'node:path';
import { LOG_LEVEL_FLAGS, logLevelOf, parseListenAddress, type CommandSpec, type FlagValues } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { LAYOUT_NAMES, type LayoutName } from '../shared/eth/layouts/types.js';
import type { LogLevel } from '../shared/log/logger.js';
import { podNameProblem, poolNameProblem } from '../shared/names/pod-name.js';

export const AGENT_COMMAND: CommandSpec = {
  name: 'agent',
  summary: 'Runs the sidecar of one validator pod: claims keys, writes them for the validator client, renews the lease, fences itself if it cannot, and hands the keys back on SIGTERM.',
  flags: [
    { name: 'coordinator', kind: 'string', required: true, description: 'Coordinator gRPC endpoint(s), HOST:PORT[,HOST:PORT…]; any replica will do.' },
    { name: 'pod-name', kind: 'string', required: true, description: 'Name of the pod this agent serves (a DNS-1123 name).' },
    { name: 'pool', kind: 'string', default: 'default', description: 'Pool to claim keys from.' },
    { name: 'keys', kind: 'int', default: 1, min: 1, max: 10_000, description: 'Number of keys to claim.' },
    { name: 'layout', kind: 'string', required: true, choices: LAYOUT_NAMES, description: 'On-disk layout of the validator client that reads the keys.' },
    { name: 'out', kind: 'string', required: true, description: 'Directory (an in-memory volume in Kubernetes) to write the keys into.' },
    { name: 'health-listen', kind: 'string', default: '127.0.0.1:8081', description: 'HOST:PORT for /healthz and /readyz (port 0 picks a free port).' },
    { name: 'fence-margin-ms', kind: 'int', default: 0, min: 0, max: 3_600_000, description: 'Fence this long before the lease could lapse; 0 picks max(1 s, TTL/5).' },
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
  readonly layout: LayoutName;
  readonly outDir: string;
  readonly health: { host: string; port: number };
  readonly fenceMarginMs: number;
  readonly requestTimeoutMs: number;
  readonly tlsCaFile: string | null;
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
    layout: values['layout'] as LayoutName,
    outDir: resolve(values['out'] as string),
    health: parseListenAddress(values['health-listen'] as string, 'health-listen'),
    fenceMarginMs: values['fence-margin-ms'] as number,
    requestTimeoutMs: values['request-timeout-ms'] as number,
    tlsCaFile: (values['tls-ca-file'] as string | undefined) ?? null,
    logLevel: logLevelOf(values),
  };
}
