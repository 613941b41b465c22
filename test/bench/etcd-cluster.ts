import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePorts } from '../support/ports.js';

/** True when Debian's etcd-server (or any etcd) is on PATH. */
export function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A three-member etcd on loopback, for comparing against on the same machine and disk. */
export class EtcdCluster {
  private constructor(
    private readonly processes: ChildProcess[],
    readonly clientUrls: string[],
  ) {}

  static async start(dir: string): Promise<EtcdCluster> {
    const ports = await freePorts(6);
    const names = ['e1', 'e2', 'e3'];
    const peerUrl = (i: number) => `http://127.0.0.1:${ports[i * 2 + 1]}`;
    const clientUrl = (i: number) => `http://127.0.0.1:${ports[i * 2]}`;
    const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    const processes = names.map((name, i) =>
      spawn('etcd', [
        '--name', name,
        '--data-dir', join(dir, name),
        '--listen-client-urls', clientUrl(i),
        '--advertise-client-urls', clientUrl(i),
        '--listen-peer-urls', peerUrl(i),
        '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--log-level', 'error',
      ], { stdio: 'ignore' }),
    );
    const cluster = new EtcdCluster(processes, names.map((_, i) => clientUrl(i)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await cluster.put('bench-ready', 'yes');
        return cluster;
      } catch (error) {
        if (Date.now() > deadline) {
          await cluster.stop();
          throw new Error(`etcd did not become ready: ${String(error)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** One linearizable write through etcd's JSON gateway (v3 API). */
  async put(key: string, value: string, url = this.clientUrls[0]!): Promise<void> {
    const response = await fetch(`${url}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: Buffer.from(value).toString('base64') }),
    });
    if (!response.ok) throw new Error(`etcd put answered ${response.status}`);
    await response.arrayBuffer();
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
  }
}
