import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { ClusterConnection } from './local-cluster.js';

/**
 * Plain JSON requests to the API server. Pods with lifecycle hooks go through this rather than through
 * @kubernetes/client-node, whose model classes rename `exec` to `_exec` and would drop it from a plain
 * object (and rename it in what they read back).
 */
export class RawApi {
  private readonly ca: Buffer;

  constructor(private readonly connection: ClusterConnection, private readonly token = connection.adminToken) {
    this.ca = readFileSync(connection.caFile);
  }

  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const url = new URL(path, this.connection.server);
    return new Promise((resolve, reject) => {
      const req = request(url, { method, ca: this.ca, headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = { text };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /** Like call, but throws unless the status is 2xx. */
  async ok(method: string, path: string, body?: unknown): Promise<any> {
    const { status, json } = await this.call(method, path, body);
    if (status < 200 || status > 299) throw new Error(`${method} ${path}: HTTP ${status}: ${JSON.stringify(json).slice(0, 500)}`);
    return json;
  }
}
