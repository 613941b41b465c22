/**
 * The agent's signing path over real HTTP on loopback, as a validator client drives it: each request an
 * ATTESTATION whose root is computed, whose watermarks are checked, raised and persisted (fdatasync of
 * the state log, on /dev/shm when it exists, as the pod's in-memory volume) before the BLS signature is
 * returned. The signer runs in its own process (this file with --serve), so client and server do not
 * share an event loop. Figures for 1, 100 and 1,000 keys: one request at a time, and C in flight
 * (one key per request in flight, so every request is signable). First, in this process: the time of one
 * hash_tree_root by the signer's SSZ (agent/signer/ssz) and by @chainsafe/ssz, for an attestation's data and
 * a full mainnet CAPELLA block.
 * --signer-node-options runs the signer process with those Node options (the webhook's AGENT_NODE_OPTIONS, say).
 * Usage: npm run bench:signer [-- --requests N --concurrency C --keys 1,100,1000 --only hashing --signer-node-options '...']
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRemoteSignerServer } from '../../agent/signer/http-server.js';
import { InAgentSigner } from '../../agent/signer/in-agent-signer.js';
import { hashTreeRoot, type ContainerType, type ListType, type SszType } from '../../agent/signer/ssz/index.js';
import { AttestationData, typesFor } from '../../agent/signer/ssz-types.js';
import { systemClock } from '../../shared/clock/clock.js';
import { createLogger } from '../../shared/log/logger.js';
import { seededRandom } from '../support/prng.js';
import { interopKey, attestationRequest, TEST_CHAIN } from '../support/signer-requests.js';
import { benchNumber, benchOption } from './bench-options.js';

async function serve(): Promise<void> {
  const keyCount = Number(benchOption('key-count', '1'));
  const stateDir = benchOption('state-dir', '');
  const signer = new InAgentSigner({ clock: systemClock, logger: createLogger({ level: 'error', component: 'signer' }), stateDir, ...TEST_CHAIN });
  await signer.install(Array.from({ length: keyCount }, (_, i) => interopKey(i)));
  signer.setDeadline(systemClock.monotonicMs() + 24 * 3600 * 1000);
  const server = await startRemoteSignerServer(signer, '127.0.0.1', 0, createLogger({ level: 'error', component: 'signer' }));
  process.send!({ port: server.port, pubKeys: signer.heldPubKeys(), rssMiB: process.memoryUsage().rss / 2 ** 20 });
  process.on('message', (message) => {
    if (message === 'rss') process.send!({ rssMiB: process.memoryUsage().rss / 2 ** 20 });
  });
  process.on('disconnect', () => void server.close().then(() => signer.close()).then(() => process.exit(0)));
}

/** @chainsafe/ssz, imported only by the hashing rows: the signer process must not load it (nor its wasm, which --jitless forbids). */
type Reference = typeof import('../support/ssz-reference.js');

/** Microseconds per hash_tree_root of `value`, ours and @chainsafe/ssz's, each after a warm-up. */
function timeRoots(ref: Reference, label: string, type: SszType, value: unknown, iterations: number): void {
  const reference = ref.referenceType(type);
  const referenceInput = ref.referenceValue(type, value);
  const perRoot = (hash: () => unknown) => {
    for (let i = 0; i < Math.ceil(iterations / 10); i += 1) hash();
    const started = performance.now();
    for (let i = 0; i < iterations; i += 1) hash();
    return ((performance.now() - started) * 1000) / iterations;
  };
  const ours = perRoot(() => hashTreeRoot(type, value));
  const theirs = perRoot(() => reference.hashTreeRoot(referenceInput));
  console.log(`  ${label.padEnd(52)} ours ${ours.toFixed(1).padStart(8)} µs   @chainsafe/ssz ${theirs.toFixed(1).padStart(8)} µs   (${(ours / theirs).toFixed(2)}×)`);
}

/** A mainnet CAPELLA block about as full as blocks get: 128 attestations, 200 transactions, 16 withdrawals. */
function capellaBlock({ randomValue }: Reference): { type: ContainerType; value: Record<string, unknown> } {
  const type = typesFor('mainnet').BeaconBlock.CAPELLA;
  const random = seededRandom(1);
  const value = randomValue(type, random) as { body: Record<string, unknown> & { execution_payload: Record<string, unknown> } };
  const body = type.fields['body'] as ContainerType;
  const payload = body.fields['execution_payload'] as ContainerType;
  const items = (list: SszType, count: number, bytes: number) => Array.from({ length: count }, () => randomValue((list as ListType).element, random, { listItems: 16, bytes }));
  value.body['attestations'] = items(body.fields['attestations']!, 128, 0);
  value.body.execution_payload['transactions'] = Array.from({ length: 200 }, () => new Uint8Array(400).fill(7));
  value.body.execution_payload['withdrawals'] = items(payload.fields['withdrawals']!, 16, 0);
  return { type, value };
}

async function hashing(): Promise<void> {
  const ref = await import('../support/ssz-reference.js');
  console.log('hash_tree_root in process, one at a time:');
  const random = seededRandom(2);
  timeRoots(ref, 'ATTESTATION: AttestationData', AttestationData, ref.randomValue(AttestationData, random), 20_000);
  const block = capellaBlock(ref);
  timeRoots(ref, 'BLOCK_V2: full mainnet CAPELLA block (128 att., 200 tx)', block.type, block.value, 100);
}

async function run(): Promise<void> {
  await hashing();
  if (benchOption('only', '') === 'hashing') return;
  const requests = benchNumber('requests', 3000);
  const concurrency = benchNumber('concurrency', 16);
  const keyCounts = benchOption('keys', '1,100,1000').split(',').map(Number);
  const stateRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  console.log(`signer bench: ATTESTATION requests over HTTP, state dir under ${stateRoot}, ${requests} measured requests per row`);
  for (const keyCount of keyCounts) {
    const stateDir = await mkdtemp(join(stateRoot, 'keylease-signer-bench-'));
    const server = await startServer(keyCount, stateDir);
    try {
      const client = new SignerClient(server.port, server.pubKeys);
      await client.run(Math.min(500, requests), 1); // warm-up
      const sequential = await client.run(requests, 1);
      report(`${keyCount} keys, 1 in flight`, sequential);
      const inFlight = Math.min(concurrency, keyCount);
      if (inFlight > 1) report(`${keyCount} keys, ${inFlight} in flight`, await client.run(requests, inFlight));
      console.log(`  signer process RSS: ${server.startRssMiB.toFixed(0)} MiB after installing ${keyCount} keys, ${(await server.rss()).toFixed(0)} MiB after the runs`);
      client.close();
    } finally {
      server.child.disconnect();
      await new Promise((resolve) => server.child.once('exit', resolve));
      await rm(stateDir, { recursive: true, force: true });
    }
  }
}

interface ServerProcess {
  child: ChildProcess;
  port: number;
  pubKeys: string[];
  startRssMiB: number;
  rss(): Promise<number>;
}

function startServer(keyCount: number, stateDir: string): Promise<ServerProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', '--key-count', String(keyCount), '--state-dir', stateDir], {
    execArgv: ['--import', 'tsx', ...benchOption('signer-node-options', '').split(' ').filter(Boolean)],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the signer process exited (${code}) before it served`)));
    child.once('message', (message) => {
      const { port, pubKeys, rssMiB } = message as { port: number; pubKeys: string[]; rssMiB: number };
      resolve({
        child,
        port,
        pubKeys,
        startRssMiB: rssMiB,
        rss: () => new Promise((answer) => (child.once('message', (m) => answer((m as { rssMiB: number }).rssMiB)), child.send('rss'))),
      });
    });
  });
}

/** Sends attestations with rising epochs; each key's requests go one after another, so none is slashable. */
class SignerClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly nextTarget: number[];

  constructor(
    private readonly port: number,
    private readonly pubKeys: string[],
  ) {
    this.nextTarget = pubKeys.map(() => 1);
  }

  async run(count: number, inFlight: number): Promise<{ latenciesMs: number[]; seconds: number; refused: number }> {
    const latenciesMs: number[] = [];
    let refused = 0;
    let sent = 0;
    const started = performance.now();
    // Worker w owns the keys k with k % inFlight === w, so one key never has two requests in flight.
    const worker = async (w: number) => {
      let own = w;
      while (sent < count) {
        sent += 1;
        const key = own;
        own = own + inFlight < this.pubKeys.length ? own + inFlight : w;
        const target = this.nextTarget[key]!++;
        const body = JSON.stringify(attestationRequest(target - 1, target));
        const t0 = performance.now();
        const status = await this.post(this.pubKeys[key]!, body);
        latenciesMs.push(performance.now() - t0);
        if (status !== 200) refused += 1;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
    return { latenciesMs, seconds: (performance.now() - started) / 1000, refused };
  }

  close(): void {
    this.agent.destroy();
  }

  private post(pubKey: string, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: this.port, path: `/api/v1/eth2/sign/${pubKey}`, method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

function report(label: string, result: { latenciesMs: number[]; seconds: number; refused: number }): void {
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  console.log(
    `${label.padEnd(28)} ${(sorted.length / result.seconds).toFixed(0).padStart(6)} req/s   p50 ${at(0.5).toFixed(2)} ms   p99 ${at(0.99).toFixed(2)} ms   max ${sorted.at(-1)!.toFixed(2)} ms` +
      (result.refused > 0 ? `   (${result.refused} refused)` : ''),
  );
}

if (process.argv.includes('--serve')) await serve();
else await run();
