import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../cli/keylease.ts', import.meta.url));

/** The node arguments that start the CLI from its TypeScript, through tsx. */
export const TSX_ENTRY: readonly string[] = ['--import', 'tsx', CLI];

export interface LogRecord {
  readonly msg?: string;
  readonly level?: string;
  readonly [field: string]: unknown;
}

/** A real `keylease` process: its output is kept, and tests wait on its log records. */
export class KeyleaseProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly records: LogRecord[] = [];
  private readonly waiters: Array<{ match: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }> = [];
  private readonly lineWaiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `entry`: the node arguments that start the CLI; the TypeScript through tsx unless given. */
  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}, entry: readonly string[] = TSX_ENTRY) {
    this.child = spawn(process.execPath, [...entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  private onLine(line: string): void {
    this.lines.push(line);
    for (const waiter of [...this.lineWaiters]) {
      if (waiter.pattern.test(line)) {
        this.lineWaiters.splice(this.lineWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
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

  /** Resolves with the first record (past or future) that matches; rejects if the process exits first or after `timeoutMs`. */
  waitFor(match: (record: LogRecord) => boolean, timeoutMs = 30_000, what = 'log record'): Promise<LogRecord> {
    const seen = this.records.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output:\n${this.lines.slice(-30).join('\n')}`)), timeoutMs);
      void this.exited.then(({ code, signal }) =>
        reject(new Error(`process exited (${code ?? signal}) before ${what}; output:\n${this.lines.slice(-30).join('\n')}`)),
      );
      this.waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  }

  /** Like waitFor, for plain output lines. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    if (this.lines.some((l) => pattern.test(l))) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a line matching ${pattern}; output:\n${this.lines.slice(-30).join('\n')}`)), timeoutMs);
      void this.exited.then(() => reject(new Error(`process exited before a line matching ${pattern}; output:\n${this.lines.slice(-30).join('\n')}`)));
      this.lineWaiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  waitForMessage(msg: string, timeoutMs?: number): Promise<LogRecord> {
    return this.waitFor((r) => r.msg === msg, timeoutMs, JSON.stringify(msg));
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Runs a keylease command to completion. */
export async function runKeylease(args: readonly string[], env: NodeJS.ProcessEnv = {}, entry?: readonly string[]): Promise<{ code: number | null; output: string }> {
  const proc = new KeyleaseProcess(args, env, entry);
  const { code } = await proc.exited;
  await new Promise((r) => setImmediate(r));
  return { code, output: proc.lines.join('\n') };
}
