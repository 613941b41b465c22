/**
 * What keylease costs where it runs, measured on what the image holds: this checkout built
 * (`npm run build`) beside a production install (`npm ci --omit=dev`) in a temporary directory. Prints,
 * for `agent --help`, an agent holding N keys (files mode, and remote-signer mode when the agent has
 * --signer-listen) and a coordinator holding M keys: start time (to the first HTTP answer) and time to
 * ready, steady RSS (median of one sample a second while it holds) and the private part of it (anonymous
 * memory: the rest is the node binary's pages, shared with every node process on the machine), peak
 * RSS (the kernel's high-water mark); then the production node_modules
 * and the image (or, with no Docker engine, the /app tree the image adds to its base). Sizes are disk
 * usage as du counts it.
 * Linux only (reads /proc). Usage:
 *   npm run bench:footprint [-- --seconds 60 --agent-keys 100 --pool-keys 10000 --app DIR --agent-node-options '...']
 * --app DIR measures the keylease in DIR (its bin/keylease.js and node_modules) as it is, instead of
 * building and installing this checkout: an older version, say. --agent-node-options replaces the Node options
 * the webhook gives the agent, to weigh another setting.
 */
import bls from '@chainsafe/bls';
import { create as createKeystore } from '@chainsafe/bls-keystore';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_OPTIONS } from '../../coordinator/k8s/webhook/agent-sidecar.js';
import { freePorts } from '../support/ports.js';
import { tempDir } from '../support/temp-dir.js';
import { benchNumber, benchOption } from './bench-options.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const seconds = benchNumber('seconds', 60);
const agentKeys = benchNumber('agent-keys', 100);
const poolKeys = benchNumber('pool-keys', 10_000);
const givenApp = benchOption('app', '');
const agentNodeOptions = benchOption('agent-node-options', AGENT_NODE_OPTIONS);

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const row = (what: string, start: string, ready: string, steady: string, privateRss: string, peak: string) =>
  console.log(`  ${what.padEnd(46)} ${start.padStart(9)} ${ready.padStart(9)} ${steady.padStart(12)} ${privateRss.padStart(12)} ${peak.padStart(12)}`);
const note = (what: string, text: string) => console.log(`  ${what.padEnd(46)} ${text}`);

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}`);
}

/** Disk usage the way du counts it: allocated blocks, each hard-linked file once. */
async function diskUsage(path: string, seen = new Set<string>()): Promise<number> {
  const stat = await lstat(path);
  const id = `${stat.dev}:${stat.ino}`;
  if (seen.has(id)) return 0;
  seen.add(id);
  let bytes = stat.blocks * 512;
  if (stat.isDirectory()) for (const name of await readdir(path)) bytes += await diskUsage(join(path, name), seen);
  return bytes;
}

/** VmRSS, RssAnon and VmHWM of a live process, in bytes. */
async function memoryOf(pid: number): Promise<{ rss: number; anon: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), anon: kib('RssAnon'), peak: kib('VmHWM') };
}

async function until<T>(check: () => Promise<T | undefined>, child: ChildProcess, output: () => string, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${output()}`);
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const answers = (url: string, status?: number) => async () => {
  const response = await fetch(url);
  await response.arrayBuffer();
  return status === undefined || response.status === status ? true : undefined;
};

interface Measured {
  readonly startMs: number;
  readonly readyMs: number;
  readonly steady: number;
  readonly steadyPrivate: number;
  readonly peak: number;
}

/** A long-running keylease process: time to its first HTTP answer, to ready, then memory while it holds. */
class Running {
  readonly child: ChildProcess;
  private output = '';
  private readonly started = performance.now();
  private readonly samples: Array<{ rss: number; anon: number }> = [];
  private sampler: NodeJS.Timeout | null = null;
  startMs = NaN;
  readyMs = NaN;

  constructor(app: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [join(app, 'bin/keylease.js'), ...args], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    for (const stream of [this.child.stdout!, this.child.stderr!]) stream.on('data', (d) => (this.output = (this.output + d).slice(-20_000)));
  }

  async waitReady(httpBase: string, timeoutMs: number): Promise<void> {
    await until(answers(`${httpBase}/healthz`), this.child, () => this.output, timeoutMs, 'its first HTTP answer');
    this.startMs = performance.now() - this.started;
    await until(answers(`${httpBase}/readyz`, 200), this.child, () => this.output, timeoutMs, 'ready');
    this.readyMs = performance.now() - this.started;
    this.sampler = setInterval(() => void memoryOf(this.child.pid!).then((m) => this.samples.push(m), () => {}), 1000);
  }

  async measure(): Promise<Measured> {
    const { peak } = await memoryOf(this.child.pid!);
    return { startMs: this.startMs, readyMs: this.readyMs, steady: median(this.samples.map((m) => m.rss)), steadyPrivate: median(this.samples.map((m) => m.anon)), peak };
  }

  async stop(): Promise<void> {
    if (this.sampler) clearInterval(this.sampler);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

const hold = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `keylease CMD --help`: wall time to exit, and peak RSS written by a probe as the process exits. */
async function measureHelp(app: string, work: string, command: string, env: NodeJS.ProcessEnv, runs = 5): Promise<{ ms: number; peak: number; text: string }> {
  const probe = join(work, 'peak-rss-probe.mjs');
  await writeFile(probe, "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.FOOTPRINT_PEAK_FILE, String(process.resourceUsage().maxRSS * 1024)));\n");
  const times: number[] = [];
  const peaks: number[] = [];
  let text = '';
  for (let i = 0; i < runs; i++) {
    const peakFile = join(work, `peak-${i}`);
    const started = performance.now();
    const result = spawnSync(process.execPath, ['--import', probe, join(app, 'bin/keylease.js'), command, '--help'], { cwd: app, encoding: 'utf8', env: { ...process.env, ...env, FOOTPRINT_PEAK_FILE: peakFile } });
    times.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`keylease ${command} --help failed:\n${result.stderr}`);
    text = result.stdout;
    peaks.push(Number(await readFile(peakFile, 'utf8')));
  }
  return { ms: median(times), peak: median(peaks), text };
}

/** N keystores of fresh random keys, with a one-round KDF: the pool's size is measured here, not keystore decryption. */
async function writeKeystores(dir: string, count: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const password = 'footprint-benchmark';
  for (let i = 0; i < count; i++) {
    const secret = bls.SecretKey.fromKeygen();
    const kdf = { function: 'pbkdf2' as const, params: { dklen: 32, c: 1, prf: 'hmac-sha256' as const, salt: randomBytes(32).toString('hex') } };
    const keystore = await createKeystore(password, secret.toBytes(), secret.toPublicKey().toBytes(), `m/12381/3600/${i}/0/0`, '', kdf);
    await writeFile(join(dir, `keystore-${i}.json`), JSON.stringify(keystore));
  }
  const passwordFile = join(dir, '..', 'keystore-password.txt');
  await writeFile(passwordFile, password);
  return passwordFile;
}

const work = await tempDir('bench-footprint');
const stops: Array<() => Promise<void>> = [];
try {
  let app = givenApp;
  let installBytes: number | null = null;
  let prunedBytes: number | null = null;
  if (!app) {
    console.log('building (npm run build) and installing production dependencies (npm ci --omit=dev)…');
    run('npm', ['run', 'build'], root);
    app = join(work.path, 'app');
    await mkdir(app);
    for (const file of ['package.json', 'package-lock.json']) await cp(join(root, file), join(app, file));
    run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], app);
    installBytes = await diskUsage(join(app, 'node_modules'));
    // As the image holds it (the Dockerfile's deps stage runs the same script).
    run('sh', [join(root, 'scripts/image/prune-node-modules.sh'), join(app, 'node_modules')], app);
    prunedBytes = await diskUsage(join(app, 'node_modules'));
    await cp(join(root, 'dist'), join(app, 'dist'), { recursive: true });
    await cp(join(root, 'bin'), join(app, 'bin'), { recursive: true });
  }

  console.log(`\nkeylease at ${givenApp || 'this checkout, built, with production dependencies only'}; node ${process.version}`);
  // The agent runs with the Node options the webhook injects into its container.
  const agentEnv = { NODE_OPTIONS: agentNodeOptions };
  console.log(`agents run with NODE_OPTIONS=${agentNodeOptions}${agentNodeOptions === AGENT_NODE_OPTIONS ? ', as the webhook injects them' : ' (--agent-node-options; the webhook injects ' + AGENT_NODE_OPTIONS + ')'}`);
  row('', 'start', 'ready', 'steady RSS', '  (private)', 'peak RSS');
  const agentHelp = await measureHelp(app, work.path, 'agent', agentEnv);
  row('agent --help (median of 5)', secs(agentHelp.ms), '', '', '', mib(agentHelp.peak));

  // A pool of poolKeys imported keys: `keylease import` into a data directory the coordinator created.
  const kekFile = join(work.path, 'kek.bin');
  await writeFile(kekFile, randomBytes(32), { mode: 0o600 });
  const dataDir = join(work.path, 'coordinator');
  const [grpcPort, httpPort, agentHealthPort, signerHealthPort, signerPort] = await freePorts(5);
  const coordinatorArgs = [
    'coordinator', '--data-dir', dataDir, '--kek-file', kekFile, '--grpc-listen', `127.0.0.1:${grpcPort}`, '--http-listen', `127.0.0.1:${httpPort}`,
    '--pool-max-keys', String(poolKeys), '--max-keys-per-claim', String(agentKeys), '--log-level', 'warn',
  ];
  const httpBase = `http://127.0.0.1:${httpPort}`;
  const first = new Running(app, coordinatorArgs);
  await first.waitReady(httpBase, 60_000);
  await first.stop();
  console.log(`  (importing ${poolKeys} keys…)`);
  const keystoresDir = join(work.path, 'keystores');
  const passwordFile = await writeKeystores(keystoresDir, poolKeys);
  run(process.execPath, [join(app, 'bin/keylease.js'), 'import', '--data-dir', dataDir, '--kek-file', kekFile, '--keystores', keystoresDir, '--password-file', passwordFile, '--log-level', 'warn'], app);

  const coordinator = new Running(app, coordinatorArgs);
  stops.push(() => coordinator.stop());
  await coordinator.waitReady(httpBase, 120_000);

  const agentArgs = (pod: string, healthPort: number) => [
    'agent', '--coordinator', `127.0.0.1:${grpcPort}`, '--pod-name', pod, '--keys', String(agentKeys), '--health-listen', `127.0.0.1:${healthPort}`, '--log-level', 'warn',
  ];
  const holdAgent = async (label: string, args: string[], healthPort: number) => {
    const agent = new Running(app, args, agentEnv);
    stops.push(() => agent.stop());
    await agent.waitReady(`http://127.0.0.1:${healthPort}`, 120_000);
    await hold(seconds * 1000);
    const measured = await agent.measure();
    await agent.stop();
    row(label, secs(measured.startMs), secs(measured.readyMs), mib(measured.steady), mib(measured.steadyPrivate), mib(measured.peak));
  };
  await holdAgent(`agent, ${agentKeys} keys, files (${seconds} s)`, [...agentArgs('footprint-files', agentHealthPort), '--layout', 'lighthouse', '--out', join(work.path, 'files-pod')], agentHealthPort);
  if (agentHelp.text.includes('--signer-listen')) {
    const signerArgs = ['--signer-listen', `127.0.0.1:${signerPort}`, '--signer-state-dir', join(work.path, 'signer-state')];
    await holdAgent(`agent, ${agentKeys} keys, remote signer (${seconds} s)`, [...agentArgs('footprint-signer', signerHealthPort), ...signerArgs], signerHealthPort);
  } else {
    note(`agent, ${agentKeys} keys, remote signer`, 'n/a: agent has no --signer-listen');
  }
  const coordinatorMeasured = await coordinator.measure();
  row(`coordinator, ${poolKeys} keys (served the agents)`, secs(coordinatorMeasured.startMs), secs(coordinatorMeasured.readyMs), mib(coordinatorMeasured.steady), mib(coordinatorMeasured.steadyPrivate), mib(coordinatorMeasured.peak));

  console.log('');
  note('production node_modules (npm ci --omit=dev)', installBytes === null ? 'n/a: --app given' : mib(installBytes));
  note('  without declarations and source maps', prunedBytes === null ? 'n/a: --app given' : `${mib(prunedBytes)} (as the image holds it)`);
  if (givenApp) {
    note('image', 'n/a: --app given');
  } else if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) {
    run('docker', ['build', '-t', 'keylease:footprint', '.'], root);
    const size = spawnSync('docker', ['image', 'inspect', '--format', '{{.Size}}', 'keylease:footprint'], { encoding: 'utf8' });
    note('image keylease:footprint', mib(Number(size.stdout.trim())));
  } else {
    note('image', `n/a: no Docker engine here; the /app tree it adds to node:20-bookworm-slim: ${mib(await diskUsage(app))}`);
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await work.cleanup();
}
