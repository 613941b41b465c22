/**
 * kubectl against the node cluster, from inside its network namespace (where test/e2e/run.ts runs the
 * tests), and waiting for the cluster to reach a state.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { NodeClusterConnection } from './node-cluster.js';

/** Set by test/e2e/run.ts: the cluster's connection.json. */
export const E2E_CLUSTER_ENV = 'KEYLEASE_E2E_CLUSTER';

export function e2eCluster(): NodeClusterConnection {
  const file = process.env[E2E_CLUSTER_ENV];
  if (!file) throw new Error(`${E2E_CLUSTER_ENV} is not set: run the e2e tests with npm run test:e2e, which starts the node cluster`);
  return JSON.parse(readFileSync(file, 'utf8')) as NodeClusterConnection;
}

export class Kubectl {
  constructor(private readonly kubeconfigFile: string) {}

  run(args: readonly string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile('kubectl', [`--kubeconfig=${this.kubeconfigFile}`, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      });
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  async json<T = any>(args: readonly string[]): Promise<T> {
    return JSON.parse(await this.run([...args, '-o', 'json'])) as T;
  }

  /** The object, or undefined when it does not exist. */
  async find<T = any>(args: readonly string[]): Promise<T | undefined> {
    try {
      return await this.json<T>(args);
    } catch (error) {
      if (/NotFound|not found/.test((error as Error).message)) return undefined;
      throw error;
    }
  }

  apply(manifest: string): Promise<string> {
    return this.run(['apply', '-f', '-'], manifest);
  }
}

/** Polls `check` until it returns a value (not undefined); the last reason is in the timeout's message. */
export async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function podReady(pod: any): boolean {
  return pod?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True') ?? false;
}
