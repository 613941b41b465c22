import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { eventually } from './coordinator-fixture.js';
import { freePorts } from './ports.js';

/** Debian's package (`apt-get install prometheus`, which .ci/run installs with promtool). */
export const PROMETHEUS = '/usr/bin/prometheus';

export interface ScrapeTarget {
  /** HOST:PORT of a /metrics endpoint on loopback. */
  readonly address: string;
  /** Labels the Prometheus Operator would add in Kubernetes (namespace, pod), so queries see the same series. */
  readonly labels: Readonly<Record<string, string>>;
}

export interface PrometheusSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/**
 * A real Prometheus scraping loopback targets. Everything it writes (TSDB, its query log) is under
 * `dir`, which is also its working directory.
 */
export class PrometheusServer {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  /** `jobs`: scrape job name → targets, all scraped every `scrapeIntervalS` seconds. */
  static async start(dir: string, jobs: Readonly<Record<string, readonly ScrapeTarget[]>>, scrapeIntervalS: number): Promise<PrometheusServer> {
    if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: install Debian's prometheus package (apt-get install prometheus), as .ci/run does`);
    const config = {
      global: { scrape_interval: `${scrapeIntervalS}s`, scrape_timeout: `${scrapeIntervalS}s`, evaluation_interval: `${scrapeIntervalS}s` },
      scrape_configs: Object.entries(jobs).map(([job, targets]) => ({
        job_name: job,
        metrics_path: '/metrics',
        static_configs: targets.map((t) => ({ targets: [t.address], labels: t.labels })),
      })),
    };
    await mkdir(join(dir, 'data'), { recursive: true });
    const configFile = join(dir, 'prometheus.yml');
    await writeFile(configFile, stringify(config));
    const [port] = (await freePorts(1)) as [number];
    const child = spawn(
      PROMETHEUS,
      [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: string[] = [];
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (d: Buffer) => output.push(d.toString()));
    const server = new PrometheusServer(child, `http://127.0.0.1:${port}`);
    try {
      await eventually(async () => ((await fetch(`${server.url}/-/ready`)).ok ? true : undefined), 20_000, `Prometheus ready on port ${port}`);
    } catch (error) {
      await server.stop();
      throw new Error(`${String(error)}; its output:\n${output.join('').slice(-2000)}`);
    }
    return server;
  }

  /** Its active targets, by scrape URL, with their health (up, down, unknown) and last error. */
  async targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>> {
    const body = (await (await fetch(`${this.url}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> } };
    return body.data.activeTargets;
  }

  /** An instant query, as Grafana sends one; throws with Prometheus's own error on a bad expression. */
  async query(expr: string): Promise<PrometheusSample[]> {
    const response = await fetch(`${this.url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
    const body = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: PrometheusSample[] | [number, string] } };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error}`);
    if (body.data!.resultType === 'scalar') throw new Error(`${expr} is a scalar, which a panel cannot show as series`);
    return body.data!.result as PrometheusSample[];
  }

  /** What Grafana's label_values(metric, label) lists. */
  async labelValues(metric: string, label: string): Promise<string[]> {
    const response = await fetch(`${this.url}/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': metric })}`);
    return ((await response.json()) as { data: string[] }).data;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
