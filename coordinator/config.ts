import { join } from 'node:path';
import { LOG_LEVEL_FLAGS, logLevelOf, parseListenAddress, type CommandSpec, type FlagValues } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import type { LogLevel } from '../shared/log/logger.js';
import { poolNameProblem } from '../shared/names/pod-name.js';
import type { PoolSettings } from './core/index.js';

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
    { name: 'cooling-ms', kind: 'int', default: DEFAULT_COOLING_MS, min: 0, max: 7 * 24 * 3_600_000, description: 'How long keys of an expired (not released) lease wait before reuse.' },
    ...LOG_LEVEL_FLAGS,
  ],
};

export interface CoordinatorConfig {
  readonly dataDir: string;
  readonly kekFile: string;
  readonly mnemonicFile: string | null;
  readonly grpc: { host: string; port: number };
  readonly http: { host: string; port: number };
  readonly pool: string;
  readonly poolSettings: PoolSettings;
  readonly logLevel: LogLevel;
}

export function coordinatorConfig(values: FlagValues): CoordinatorConfig {
  const pool = values['pool'] as string;
  const problem = poolNameProblem(pool);
  if (problem) throw new ConfigError(`--pool: ${problem}`);
  const mnemonicFile = (values['mnemonic-file'] as string | undefined) ?? null;
  return {
    dataDir: values['data-dir'] as string,
    kekFile: values['kek-file'] as string,
    mnemonicFile,
    grpc: parseListenAddress(values['grpc-listen'] as string, 'grpc-listen'),
    http: parseListenAddress(values['http-listen'] as string, 'http-listen'),
    pool,
    poolSettings: {
      derive: mnemonicFile !== null,
      maxKeys: values['pool-max-keys'] as number,
      maxKeysPerClaim: values['max-keys-per-claim'] as number,
      leaseTtlMs: values['lease-ttl-ms'] as number,
      coolingMs: values['cooling-ms'] as number,
    },
    logLevel: logLevelOf(values),
  };
}

export const replicaDirectory = (dataDir: string) => join(dataDir, 'replica');
