import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePorts } from './ports.js';

/**
 * A real Lodestar 1.5.1 for tests (installed by scripts/lodestar/install.sh into a cache folder): a
 * `lodestar dev` beacon node on the minimal preset with interop genesis validators and none of its own,
 * and `lodestar validator` clients that sign through a remote signer and serve the Keymanager API.
 * Every process logs JSON lines on stdout at debug level (the validator client names the validator of
 * each signed attestation only at debug), and listens on loopback ports that were free at start.
 */

const VERSION = '1.5.1';

/**
 * The `lodestar` binary: $KEYLEASE_LODESTAR_BIN, else where install.sh puts it by default. Undefined when
 * neither exists; `LODESTAR_MISSING` says what to run.
 */
export function lodestarBinary(): string | undefined {
  const cache = process.env['KEYLEASE_LODESTAR_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), `keylease-lodestar-${VERSION}`);
  const candidate = process.env['KEYLEASE_LODESTAR_BIN'] ?? join(cache, 'node_modules', '.bin', 'lodestar');
  return existsSync(candidate) ? candidate : undefined;
}

export const LODESTAR_MISSING = `Lodestar ${VERSION} is not installed: run bash scripts/lodestar/install.sh (.ci/run does)`;

/** Chain parameters passed as --params.* to the beacon node and to every validator client alike. */
export interface ChainParams {
  readonly secondsPerSlot: number;
  /** Fork epochs; a fork left out never happens (the minimal preset's dev chain stays phase0). */
  readonly altairForkEpoch?: number;
  readonly bellatrixForkEpoch?: number;
  readonly capellaForkEpoch?: number;
}

/** Minimal preset: 8 slots an epoch. */
export const SLOTS_PER_EPOCH = 8;

function paramArgs(params: ChainParams): string[] {
  const args = ['--params.SECONDS_PER_SLOT', String(params.secondsPerSlot)];
  const forks: Array<[string, number | undefined]> = [
    ['ALTAIR_FORK_EPOCH', params.altairForkEpoch],
    ['BELLATRIX_FORK_EPOCH', params.bellatrixForkEpoch],
    ['CAPELLA_FORK_EPOCH', params.capellaForkEpoch],
  ];
  for (const [name, epoch] of forks) if (epoch !== undefined) args.push(`--params.${name}`, String(epoch));
  return args;
}

/** One JSON log line of a Lodestar process. */
export interface LodestarLogRecord {
  readonly message: string;
  readonly level: string;
  readonly module?: string;
  readonly timestamp?: string;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly error?: unknown;
}

const running = new Set<ChildProcess>();
// A test that throws must not leave Lodestar processes behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A running Lodestar process: its JSON log records are kept and can be waited on. */
export class LodestarProcess {
  readonly child: ChildProcess;
  readonly records: LodestarLogRecord[] = [];
  /** Output lines that are not JSON (startup banners, crashes). */
  readonly otherLines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: Array<{ match: (r: LodestarLogRecord) => boolean; resolve: (r: LodestarLogRecord) => void }> = [];

  constructor(readonly name: string, binary: string, args: readonly string[], cwd: string) {
    this.child = spawn(binary, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LODESTAR_PRESET: 'minimal' } });
    running.add(this.child);
    for (const stream of [this.child.stdout!, this.child.stderr!]) createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        running.delete(this.child);
        resolve({ code, signal });
      }),
    );
  }

  private onLine(line: string): void {
    let record: LodestarLogRecord;
    try {
      record = JSON.parse(line) as LodestarLogRecord;
      if (typeof record.message !== 'string') throw new Error('not a log record');
    } catch {
      this.otherLines.push(line);
      return;
    }
    this.records.push(record);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(record)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(record);
      }
    }
  }

  /** The last log lines, for error messages. */
  tail(count = 20): string {
    return [...this.otherLines.slice(-5), ...this.records.slice(-count).map((r) => `${r.level}: ${r.message} ${JSON.stringify(r.context ?? {})}`)].join('\n');
  }

  /** Resolves with the first record (past or future) that matches; rejects if the process exits first or after `timeoutMs`. */
  waitFor(match: (record: LodestarLogRecord) => boolean, timeoutMs: number, what: string): Promise<LodestarLogRecord> {
    const seen = this.records.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new Error(`${this.name}: ${why} waiting for ${what}; last output:\n${this.tail()}`));
      };
      const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
      void this.exited.then(({ code, signal }) => fail(`exited (${code ?? signal})`));
      const waiter = { match, resolve: (r: LodestarLogRecord) => (clearTimeout(timer), resolve(r)) };
      this.waiters.push(waiter);
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

function requireBinary(): string {
  const binary = lodestarBinary();
  if (!binary) throw new Error(LODESTAR_MISSING);
  return binary;
}

export interface BeaconNode {
  readonly process: LodestarProcess;
  /** The beacon API, e.g. http://127.0.0.1:PORT. */
  readonly restUrl: string;
  /** Unix seconds of slot 0. */
  readonly genesisTime: number;
  readonly params: ChainParams;
  readonly validatorCount: number;
  stop(): Promise<void>;
}

/**
 * Starts `lodestar dev` with `validatorCount` interop genesis validators (keys 0..N-1, see interop-keys.ts)
 * and no validators of its own, so every duty is signed by the tests' clients. Genesis is a few seconds
 * after the start; resolves once the beacon API answers.
 */
export async function startBeaconNode(options: { dir: string; validatorCount: number; params: ChainParams; timeoutMs?: number }): Promise<BeaconNode> {
  const binary = requireBinary();
  const dataDir = join(options.dir, 'beacon');
  await mkdir(dataDir, { recursive: true });
  const [restPort, p2pPort] = await freePorts(2);
  const args = [
    'dev',
    '--genesisValidators', String(options.validatorCount),
    '--dataDir', dataDir,
    '--rest.address', '127.0.0.1', '--rest.port', String(restPort),
    '--listenAddress', '127.0.0.1', '--port', String(p2pPort), '--discv5', 'false',
    // After Bellatrix a block needs an execution payload; the mock engine makes empty ones (no merge).
    ...(options.params.bellatrixForkEpoch !== undefined ? ['--execution.engineMock'] : []),
    '--logFormat', 'json', '--logLevel', 'info', '--logFile', 'none',
    ...paramArgs(options.params),
  ];
  // `dev` writes genesis.ssz into its working directory.
  const beacon = new LodestarProcess('lodestar beacon node', binary, args, dataDir);
  const restUrl = `http://127.0.0.1:${restPort}`;
  try {
    await beacon.waitFor((r) => r.message === 'Started REST API server', options.timeoutMs ?? 30_000, 'the REST API');
    const genesis = (await (await fetch(`${restUrl}/eth/v1/beacon/genesis`)).json()) as { data: { genesis_time: string } };
    return {
      process: beacon,
      restUrl,
      genesisTime: Number(genesis.data.genesis_time),
      params: options.params,
      validatorCount: options.validatorCount,
      stop: () => beacon.stop(),
    };
  } catch (error) {
    await beacon.stop('SIGKILL');
    throw error;
  }
}

export interface ExternalSignerOptions {
  readonly url: string;
  /** Keys the client signs for through the signer (--externalSigner.pubkeys). */
  readonly pubkeys?: readonly string[];
  /** Ask the signer for its keys (--externalSigner.fetch). */
  readonly fetch?: boolean;
}

export interface ValidatorClient {
  readonly process: LodestarProcess;
  /** The Keymanager API, e.g. http://127.0.0.1:PORT; calls need `Authorization: Bearer ${keymanagerToken}`. */
  readonly keymanagerUrl: string;
  readonly keymanagerToken: string;
  readonly dataDir: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `lodestar validator --network dev` against `beaconNode`, with the Keymanager API on a free port.
 * `externalSigner` points it at a remote signer; `builder` turns on --builder (which makes it sign a
 * validator registration every epoch after Bellatrix). Resolves once the Keymanager API serves.
 */
export async function startValidatorClient(options: {
  dir: string;
  beaconNode: BeaconNode;
  externalSigner?: ExternalSignerOptions;
  builder?: boolean;
  extraArgs?: readonly string[];
  timeoutMs?: number;
}): Promise<ValidatorClient> {
  const binary = requireBinary();
  const dataDir = options.dir;
  await mkdir(dataDir, { recursive: true });
  const [keymanagerPort] = await freePorts(1);
  const signer = options.externalSigner;
  const args = [
    'validator',
    '--network', 'dev',
    '--server', options.beaconNode.restUrl,
    '--dataDir', dataDir,
    '--keymanager', '--keymanager.address', '127.0.0.1', '--keymanager.port', String(keymanagerPort),
    ...(signer ? ['--externalSigner.url', signer.url] : []),
    ...(signer?.pubkeys?.length ? ['--externalSigner.pubkeys', signer.pubkeys.join(',')] : []),
    ...(signer?.fetch ? ['--externalSigner.fetch'] : []),
    ...(options.builder ? ['--builder'] : []),
    '--logFormat', 'json', '--logLevel', 'debug', '--logFile', 'none',
    ...paramArgs(options.beaconNode.params),
    ...(options.extraArgs ?? []),
  ];
  const client = new LodestarProcess('lodestar validator client', binary, args, dataDir);
  try {
    await client.waitFor((r) => r.message === 'Started REST API server' || /keymanager/i.test(r.message), options.timeoutMs ?? 30_000, 'the Keymanager API');
    const keymanagerToken = (await readFile(join(dataDir, 'validator-db', 'api-token.txt'), 'utf8')).trim();
    return {
      process: client,
      keymanagerUrl: `http://127.0.0.1:${keymanagerPort}`,
      keymanagerToken,
      dataDir,
      stop: (signal) => client.stop(signal),
    };
  } catch (error) {
    await client.stop('SIGKILL');
    throw error;
  }
}
