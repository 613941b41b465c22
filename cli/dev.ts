import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Wallet } from 'ethers';
import type { LocalChain } from '../coordinator/deposits/local-chain.js';
import { NETWORK_FLAGS, poolNetwork } from '../coordinator/network-config.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startCoordinator } from '../coordinator/coordinator.js';
import { coordinatorConfig, COORDINATOR_COMMAND } from '../coordinator/config.js';
import { generateMnemonic } from '../coordinator/keys/mnemonic-file.js';
import { LOG_LEVEL_FLAGS, logLevelOf, type CommandSpec, type FlagValues } from '../shared/cli/flags.js';
import { LAYOUT_NAMES } from '../shared/eth/layouts/types.js';
import { createLogger } from '../shared/log/logger.js';
import { runCommand, shutdownSignal, STOP_WITH_PARENT_ENV } from '../shared/cli/run-command.js';

const DEV_COMMAND: CommandSpec = {
  name: 'dev',
  summary: 'Runs keylease locally on embedded defaults: a coordinator with a throwaway demo pool, and agents standing in for validator pods, each writing keys into its own folder. Ctrl-C stops everything cleanly.',
  flags: [
    { name: 'agents', kind: 'int', default: 3, min: 0, max: 50, description: 'Stand-in pods to start (0: the coordinator alone, for agents started by hand).' },
    { name: 'keys-per-agent', kind: 'int', default: 2, min: 1, max: 64, description: 'Keys each stand-in pod claims.' },
    { name: 'data-dir', kind: 'string', default: '.keylease-dev', description: 'Where the demo mnemonic, key-encryption key, database and pod folders live.' },
    { name: 'grpc-listen', kind: 'string', default: '127.0.0.1:7400', description: 'HOST:PORT for the agent gRPC API.' },
    { name: 'http-listen', kind: 'string', default: '127.0.0.1:7401', description: 'HOST:PORT for /assignments and /metrics.' },
    { name: 'lease-ttl-ms', kind: 'int', default: 15_000, min: 2000, max: 3_600_000, description: 'Lease time to live.' },
    { name: 'cooling-ms', kind: 'int', default: 60_000, min: 0, max: 3_600_000, description: 'Cooling time of keys whose lease expired (shorter than production\'s two epochs, for the demo).' },
    { name: 'rpc-url', kind: 'string', description: 'JSON-RPC URL of an external chain (a devnet or testnet) to make the deposits on, instead of the local in-process chain. Needs --funding-key-file, --withdrawal-address and the network: --network (never mainnet) or a custom network\'s flags.' },
    { name: 'funding-key-file', kind: 'string', description: 'With --rpc-url: file holding the 0x-prefixed private key of the wallet that pays the deposits.' },
    { name: 'withdrawal-address', kind: 'string', description: 'With --rpc-url: the EIP-55 checksummed address the deposits\' withdrawals go to.' },
    { name: 'deposit-confirmations', kind: 'int', default: 1, min: 1, max: 1000, description: 'Blocks on top of a deposit (itself included) before its key is claimable.' },
    { name: 'beacon-url', kind: 'string', description: 'With --rpc-url: the chain\'s beacon node, whose validators count as in use elsewhere.' },
    ...NETWORK_FLAGS,
    ...LOG_LEVEL_FLAGS,
  ],
};

/** Node arguments that run this CLI the way this process runs it: compiled, or its TypeScript through tsx. */
const CLI_NODE_ARGS = import.meta.url.endsWith('.ts')
  ? ['--import', 'tsx', fileURLToPath(new URL('./keylease.ts', import.meta.url))]
  : [fileURLToPath(new URL('./keylease.js', import.meta.url))];

/**
 * The local chain runs Hardhat's EVM, a development dependency: a production install (the image,
 * `npm ci --omit=dev`) has no Hardhat, and `dev` says so before it writes anything.
 */
async function loadLocalChain(): Promise<typeof import('../coordinator/deposits/local-chain.js')> {
  try {
    return await import('../coordinator/deposits/local-chain.js');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && /\bhardhat\b/.test((error as Error).message)) {
      throw new ConfigError('the local Ethereum chain runs on Hardhat, a development dependency this installation leaves out (npm ci --omit=dev, the image): run dev from a checkout with every dependency installed (npm install)');
    }
    throw error;
  }
}

/** `keylease dev`: what `npm start` runs. */
export function devMain(argv: string[]): Promise<void> {
  return runCommand(DEV_COMMAND, argv, async (values) => {
    const dataDir = resolve(values['data-dir'] as string);
    // Checked before anything is written: a refused start leaves no demo data behind.
    const external = externalChain(values);
    // Hardhat (a development dependency) only for the local chain; an external one needs none.
    const chainModule = external ? null : await loadLocalChain();
    const logLevel = logLevelOf(values);
    // The coordinator's log goes to stderr as usual; deposit progress is also told to the person watching.
    const logger = createLogger({
      level: logLevel,
      component: 'coordinator',
      sink: (line) => {
        process.stderr.write(line + '\n');
        const record = JSON.parse(line) as { msg?: string; deposits?: number; keys?: number; scannedThroughIndex?: number; foundOnChain?: number };
        if (record.msg === 'restore scan progress') print(`coordinator: restore scan: derivation indices up to ${record.scannedThroughIndex} looked up on chain, ${record.foundOnChain} in use`);
        else if (record.msg?.startsWith('restore scan: keys in use on chain entered the pool as foreign')) print(`coordinator: ${record.keys} keys in use on chain are foreign: not handed out (keylease pool foreign)`);
        else if (record.msg === 'keys derived; their deposits are next') print(`coordinator: ${record.keys} new keys derived, depositing 32 ETH each`);
        else if (record.msg === 'deposit transactions committed') print(`coordinator: ${record.deposits} deposit transactions signed and committed, broadcasting`);
        else if (record.msg === 'deposits confirmed; their keys are claimable') print(`coordinator: ${record.deposits} deposits confirmed on chain`);
      },
    });
    await mkdir(dataDir, { recursive: true, mode: 0o700 });

    const mnemonicFile = join(dataDir, 'demo-mnemonic.txt');
    const kekFile = join(dataDir, 'kek.bin');
    if (!existsSync(mnemonicFile)) {
      await writeFile(mnemonicFile, generateMnemonic() + '\n', { mode: 0o600, flag: 'wx' });
      banner([
        'A NEW THROWAWAY MNEMONIC WAS GENERATED FOR THIS LOCAL DEMO.',
        `It is stored unprotected in ${mnemonicFile}.`,
        'It is for local use only: never deposit to keys derived from it,',
        'and never use keylease dev for real validators.',
      ]);
    }
    if (!existsSync(kekFile)) await writeFile(kekFile, randomBytes(32), { mode: 0o600, flag: 'wx' });

    const chain = external ?? (await localChain(dataDir, chainModule!));
    const coordinatorValues = {
      ...Object.fromEntries(COORDINATOR_COMMAND.flags.map((f) => [f.name, f.default])),
      'data-dir': join(dataDir, 'coordinator'),
      'kek-file': kekFile,
      'mnemonic-file': mnemonicFile,
      'grpc-listen': values['grpc-listen'],
      'http-listen': values['http-listen'],
      'lease-ttl-ms': values['lease-ttl-ms'],
      'cooling-ms': values['cooling-ms'],
      'log-level': logLevel,
      verbose: false,
      'deposit-mode': 'submit',
      ...chain.coordinatorFlags,
      'deposit-confirmations': values['deposit-confirmations'],
    };
    const config = coordinatorConfig(coordinatorValues);
    const coordinator = await startCoordinator(config, logger);
    const grpcEndpoint = `${config.grpc.host}:${coordinator.grpcPort}`;
    const agentCount = values['agents'] as number;
    const pods = Array.from({ length: agentCount }, (_, i) => ({
      podName: `validator-${i}`,
      layout: LAYOUT_NAMES[i % LAYOUT_NAMES.length]!,
      outDir: join(dataDir, 'pods', `validator-${i}`),
    }));

    print('');
    print('keylease dev is running');
    print(`  coordinator gRPC endpoint  ${grpcEndpoint}`);
    print(`  assignments                http://${config.http.host}:${coordinator.httpPort}/assignments`);
    print(`  metrics                    http://${config.http.host}:${coordinator.httpPort}/metrics`);
    print(`  data                       ${dataDir}`);
    print(`  ${chain.local ? 'local chain (deposits)  ' : 'external chain (deposits)'}  ${chain.shownUrl}  contract ${config.network.depositContractAddress}`);
    for (const pod of pods) print(`  pod ${pod.podName.padEnd(22)} ${pod.outDir}  (${pod.layout} layout)`);
    if (agentCount === 0) print(`  no stand-in pods; start one with: npx keylease agent --coordinator ${grpcEndpoint} --pod-name my-pod --keys 1 --layout plain --out ./my-pod`);
    print('Press Ctrl-C to stop: the agents remove their keys and release them, then the coordinator flushes.');
    print('');

    const agents = pods.map((pod) =>
      startAgentProcess(
        ['agent', '--coordinator', grpcEndpoint, '--pod-name', pod.podName, '--pool', config.pool, '--keys', String(values['keys-per-agent']), '--layout', pod.layout, '--out', pod.outDir, '--health-listen', '127.0.0.1:0', '--log-level', logLevel],
        pod.podName,
      ),
    );

    const signal = await shutdownSignal();
    print(`\n${signal}: stopping ${agents.length} agents…`);
    await Promise.all(agents.map((agent) => stopProcess(agent)));
    await coordinator.close();
    await chain.local?.close();
    print('keylease dev stopped cleanly: keys released, database flushed.');
  });
}

/** Starts `keylease agent` as a real child process and turns its key events into readable lines. */
function startAgentProcess(args: string[], podName: string): ChildProcess {
  // Own process group: a terminal Ctrl-C reaches only `dev`, which then stops the agents in order.
  // The stdin pipe tells the agent when `dev` is gone, even after a SIGKILL.
  const child = spawn(process.execPath, [...CLI_NODE_ARGS, ...args], {
    stdio: ['pipe', 'inherit', 'pipe'],
    detached: true,
    env: { ...process.env, [STOP_WITH_PARENT_ENV]: '1' },
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    process.stderr.write(line + '\n');
    try {
      const record = JSON.parse(line) as { msg?: string; keys?: number; leaseId?: string; reason?: string };
      if (record.msg === 'keys claimed and written') print(`${podName}: ${record.keys} keys written (lease ${record.leaseId})`);
      else if (record.msg === 'lease released') print(`${podName}: keys removed and released`);
      else if (record.msg === 'fenced: keys removed') print(`${podName}: FENCED, keys removed (${record.reason})`);
    } catch {
      // not a log record
    }
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal === null) print(`${podName}: agent exited with code ${code}`);
  });
  return child;
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface DepositChain {
  /** The in-process chain, or null when deposits go to an external one. */
  readonly local: LocalChain | null;
  /** What may be printed of the endpoint (an external URL may carry an API key). */
  readonly shownUrl: string;
  /** The coordinator's chain, network and wallet flags. */
  readonly coordinatorFlags: FlagValues;
}

const NETWORK_FLAG_NAMES = NETWORK_FLAGS.map((f) => f.name);

/** An external chain given with --rpc-url and its network, paid from the operator's wallet; null without --rpc-url. */
function externalChain(values: FlagValues): DepositChain | null {
  const rpcUrl = values['rpc-url'] as string | undefined;
  const passThrough = Object.fromEntries(['beacon-url', ...NETWORK_FLAG_NAMES].filter((name) => values[name] !== undefined).map((name) => [name, values[name]]));
  if (rpcUrl) {
    const network = poolNetwork(values);
    if (values['network'] === undefined && network.name === 'mainnet') {
      throw new ConfigError('with --rpc-url, say which chain it is: --network hoodi|sepolia|holesky, or a custom network\'s --genesis-fork-version, --genesis-validators-root, --deposit-contract-address and --chain-id');
    }
    if (network.name === 'mainnet') throw new ConfigError('keylease dev never deposits on mainnet: its mnemonic is a throwaway kept unprotected on disk; use a testnet or devnet');
    for (const name of ['funding-key-file', 'withdrawal-address']) if (!values[name]) throw new ConfigError(`--rpc-url needs --${name}`);
    return {
      local: null,
      shownUrl: new URL(rpcUrl).origin,
      coordinatorFlags: { ...passThrough, 'eth-rpc-url': rpcUrl, 'funding-key-file': values['funding-key-file'], 'withdrawal-address': values['withdrawal-address'] },
    };
  }
  const stray = ['funding-key-file', 'withdrawal-address', ...Object.keys(passThrough)].find((name) => values[name] !== undefined);
  if (stray) throw new ConfigError(`--${stray} describes an external chain: give it with --rpc-url (without it, keylease dev runs a local chain of its own)`);
  return null;
}

/**
 * A local in-process chain with the deposit contract; its keys are kept with the demo data, so the
 * contract and funding wallet are the same on every start.
 */
async function localChain(dataDir: string, { startLocalChain }: typeof import('../coordinator/deposits/local-chain.js')): Promise<DepositChain> {
  const chainKeys = await demoChainKeys(join(dataDir, 'demo-chain-keys.json'));
  const chain = await startLocalChain({ fundingPrivKey: chainKeys.funding, deployerPrivKey: chainKeys.deployer });
  const fundingKeyFile = join(dataDir, 'demo-funding.key');
  await writeFile(fundingKeyFile, chainKeys.funding, { mode: 0o600 });
  return {
    local: chain,
    shownUrl: chain.rpcUrl,
    coordinatorFlags: {
      'withdrawal-address': DEMO_WITHDRAWAL_ADDRESS,
      'eth-rpc-url': chain.rpcUrl,
      'funding-key-file': fundingKeyFile,
      'chain-id': chain.network.chainId,
      'genesis-fork-version': chain.network.genesisForkVersion,
      'genesis-validators-root': chain.network.genesisValidatorsRoot,
      'deposit-contract-address': chain.network.depositContractAddress,
    },
  };
}

/** Withdrawals of the demo's deposits go here; the chain is local and throwaway. */
const DEMO_WITHDRAWAL_ADDRESS = '0x000000000000000000000000000000000000dEaD';

async function demoChainKeys(path: string): Promise<{ funding: string; deployer: string }> {
  if (existsSync(path)) return JSON.parse(await readFile(path, 'utf8')) as { funding: string; deployer: string };
  const keys = { funding: Wallet.createRandom().privateKey, deployer: Wallet.createRandom().privateKey };
  await writeFile(path, JSON.stringify(keys), { mode: 0o600, flag: 'wx' });
  return keys;
}

function print(line: string): void {
  process.stdout.write(line + '\n');
}

function banner(lines: string[]): void {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const rule = '!'.repeat(width);
  process.stdout.write(['', rule, ...lines.map((l) => `! ${l.padEnd(width - 4)} !`), rule, ''].join('\n') + '\n');
}
