/**
 * Key derivation rate (EIP-2333 derivation, then the EIP-2335 keystore's pbkdf2 KDF and the KEK seal):
 * one worker thread (the single-core rate), then the coordinator's pool of one worker per core, which
 * should reach ≥ 90 % of cores × the single-core rate. Beside it, what the machine allows: the same
 * pbkdf2 in a loop on one thread, then on one thread per core. The machine's load average is printed
 * with each figure: other work on the machine takes cores from the pool.
 * Usage: npm run bench:derivation [-- --keys-per-worker N]
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DerivationPool } from '../../coordinator/keys/derivation-pool.js';
import { mnemonicToSeed } from '../../coordinator/keys/derive.js';
import { TEST_MNEMONIC } from '../support/coordinator-fixture.js';
import { benchNumber } from './bench-options.js';

const keysPerWorker = benchNumber('keys-per-worker', 40);
const seed = mnemonicToSeed(TEST_MNEMONIC);
const kek = randomBytes(32);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** Keys per second of wall time, and CPU milliseconds per key (all threads of this process). */
async function rate(workers: number): Promise<{ keysPerSecond: number; cpuMsPerKey: number }> {
  const pool = new DerivationPool(workers);
  try {
    // Every worker loads first (tsx, BLS; ~0.4 s of CPU from the TypeScript source), a key each: their
    // start-up is not derivation. (A request's last keys go one per message, each to a worker of its own.)
    await pool.derive(seed, kek, 0, workers);
    const count = keysPerWorker * workers;
    const started = performance.now();
    const cpu = process.cpuUsage();
    await pool.derive(seed, kek, 1000, count);
    const used = process.cpuUsage(cpu);
    return { keysPerSecond: count / ((performance.now() - started) / 1000), cpuMsPerKey: (used.user + used.system) / 1000 / count };
  } finally {
    await pool.close();
  }
}

/** The keystore's KDF (pbkdf2-sha256, c=2^18) in a loop on `threads` threads at once: operations per second. */
async function pbkdf2Rate(threads: number): Promise<number> {
  const loop = `const { parentPort, workerData } = require('node:worker_threads');
    const { pbkdf2Sync, randomBytes } = require('node:crypto');
    parentPort.once('message', () => {
      for (let i = 0; i < workerData; i++) pbkdf2Sync(randomBytes(32).toString('hex'), randomBytes(32), 2 ** 18, 32, 'sha256');
      parentPort.postMessage('done');
    });
    parentPort.postMessage('ready');`;
  const workers = await Promise.all(
    Array.from({ length: threads }, () => {
      const worker = new Worker(loop, { eval: true, workerData: keysPerWorker });
      return new Promise<Worker>((resolve) => worker.once('message', () => resolve(worker)));
    }),
  );
  try {
    const started = performance.now();
    await Promise.all(workers.map((worker) => new Promise((resolve) => (worker.once('message', resolve), worker.postMessage('go')))));
    return (threads * keysPerWorker) / ((performance.now() - started) / 1000);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

const cores = availableParallelism();
console.log(`${cores} cores; load average before: ${load()}`);
const single = await rate(1);
console.log(`  1 worker:  ${single.keysPerSecond.toFixed(1)} keys/s, ${single.cpuMsPerKey.toFixed(1)} CPU ms/key   (load ${load()})`);
const pooled = await rate(cores);
console.log(`  ${cores} workers: ${pooled.keysPerSecond.toFixed(1)} keys/s, ${pooled.cpuMsPerKey.toFixed(1)} CPU ms/key   (load ${load()})`);
console.log(`  pool / (cores × single) = ${((100 * pooled.keysPerSecond) / (cores * single.keysPerSecond)).toFixed(0)} %  (target ≥ 90 %; needs idle cores to mean anything)`);
const kdfAlone = await pbkdf2Rate(1);
const kdfPerCore = await pbkdf2Rate(cores);
console.log(
  `  hardware reference, the keystore's pbkdf2 in a loop: 1 thread ${kdfAlone.toFixed(1)} ops/s, ${cores} threads ${kdfPerCore.toFixed(1)} ops/s` +
    ` = ${((100 * kdfPerCore) / (cores * kdfAlone)).toFixed(0)} % of cores × one   (load ${load()})`,
);
