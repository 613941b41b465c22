import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyleaseProcess } from './processes.js';

export const TEST_MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

/** Writes a KEK and the test mnemonic into `dir`; returns their paths. */
export async function writeSecrets(dir: string): Promise<{ kekFile: string; mnemonicFile: string; kek: Buffer }> {
  const kek = randomBytes(32);
  const kekFile = join(dir, 'kek.bin');
  const mnemonicFile = join(dir, 'mnemonic.txt');
  await writeFile(kekFile, kek, { mode: 0o600 });
  await writeFile(mnemonicFile, TEST_MNEMONIC + '\n', { mode: 0o600 });
  return { kekFile, mnemonicFile, kek };
}

export interface StartedCoordinator {
  readonly process: KeyleaseProcess;
  readonly grpcEndpoint: string;
  readonly httpBase: string;
  readonly grpcPort: number;
  readonly httpPort: number;
}

/** Starts a real coordinator process and waits until it is ready. */
export async function startCoordinatorProcess(args: {
  dataDir: string;
  kekFile: string;
  mnemonicFile?: string;
  grpcPort?: number;
  httpPort?: number;
  extra?: string[];
}): Promise<StartedCoordinator> {
  const proc = new KeyleaseProcess([
    'coordinator',
    '--data-dir', args.dataDir,
    '--kek-file', args.kekFile,
    ...(args.mnemonicFile ? ['--mnemonic-file', args.mnemonicFile] : []),
    '--grpc-listen', `127.0.0.1:${args.grpcPort ?? 0}`,
    '--http-listen', `127.0.0.1:${args.httpPort ?? 0}`,
    '--log-level', 'debug',
    ...(args.extra ?? []),
  ]);
  const ready = await proc.waitForMessage('coordinator ready', 30_000);
  const grpcPort = Number(String(ready['grpc']).split(':').pop());
  const httpPort = Number(String(ready['http']).split(':').pop());
  return { process: proc, grpcEndpoint: `127.0.0.1:${grpcPort}`, httpBase: `http://127.0.0.1:${httpPort}`, grpcPort, httpPort };
}

export interface AssignmentsJson {
  pools: Record<string, { unallocated: number; allocated: number; cooling: number; quarantined: number }>;
  pods: Array<{ podName: string; pool: string; leaseId: string; pubKeys: string[]; leaseExpiresAtMs: number | null }>;
  cooling: Array<{ pubKey: string; coolingUntilMs: number | null }>;
}

export async function fetchAssignments(httpBase: string): Promise<AssignmentsJson> {
  const response = await fetch(`${httpBase}/assignments`, { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`/assignments answered ${response.status}`);
  return (await response.json()) as AssignmentsJson;
}

/** Polls `check` until it returns a value (not undefined), for conditions only observable from outside. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
