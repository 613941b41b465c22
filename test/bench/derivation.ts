/**
 * Key derivation rate (EIP-2333 derivation, then the EIP-2335 keystore's pbkdf2 KDF and the KEK seal):
 * one worker thread (the single-core rate), then the coordinator's pool of one worker per core, which
 * should reach ≥ 90 % of cores × the single-core rate. The machine's load average is printed with each
 * figure: other work on the machine takes cores from the pool.
 * Usage: npm run bench:derivation [-- --keys-per-worker N]
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
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
    // Workers load first (tsx, BLS): their start-up is not derivation.
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

const cores = availableParallelism();
console.log(`${cores} cores; load average before: ${load()}`);
const single = await rate(1);
console.log(`  1 worker:  ${single.keysPerSecond.toFixed(1)} keys/s, ${single.cpuMsPerKey.toFixed(1)} CPU ms/key   (load ${load()})`);
const pooled = await rate(cores);
console.log(`  ${cores} workers: ${pooled.keysPerSecond.toFixed(1)} keys/s, ${pooled.cpuMsPerKey.toFixed(1)} CPU ms/key   (load ${load()})`);
console.log(`  pool / (cores × single) = ${((100 * pooled.keysPerSecond) / (cores * single.keysPerSecond)).toFixed(0)} %  (target ≥ 90 %; needs idle cores to mean anything)`);
