import bls from '@chainsafe/bls';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { encryptKeystore } from '../../shared/eth/keystore.js';

/** One keystore of the bench's pool and its password, as the admin import takes them. */
export interface BenchKeystore {
  readonly keystore: string;
  readonly password: string;
}

/**
 * Keystores made for the fleet bench: random BLS keys (not derived: derivation is measured by
 * bench:derivation) under pbkdf2 with a single iteration, so importing 100,000 of them costs seconds,
 * not the hours the standard KDF would. Made once and kept under ~/.cache/keylease-bench; never keys
 * that guard anything.
 */
export async function benchKeystores(count: number, log: (line: string) => void): Promise<BenchKeystore[]> {
  const dir = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'keylease-bench');
  const file = join(dir, `keystores-pbkdf2-c1-${count}.jsonl`);
  if (!(await stat(file).catch(() => null))) {
    log(`making ${count} bench keystores (cheap KDF) into ${file}…`);
    await mkdir(dir, { recursive: true });
    const lines: string[] = [];
    const password = 'keylease-bench';
    for (let i = 0; i < count; i++) {
      const secretKey = bls.SecretKey.fromKeygen(randomBytes(32));
      const privKey = secretKey.toBytes();
      const keystore = await encryptKeystore(password, privKey, secretKey.toPublicKey().toBytes(), `m/12381/3600/${i}/0/0`, { pbkdf2Iterations: 1 });
      privKey.fill(0);
      lines.push(JSON.stringify({ keystore: JSON.stringify(keystore), password }));
    }
    await writeFile(`${file}.tmp`, lines.join('\n') + '\n');
    await rename(`${file}.tmp`, file);
  }
  const keystores: BenchKeystore[] = [];
  for await (const line of createInterface({ input: createReadStream(file) })) if (line) keystores.push(JSON.parse(line) as BenchKeystore);
  return keystores;
}
