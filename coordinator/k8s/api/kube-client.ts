import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { KubeApiError } from './errors.js';
import type { KubeConnection } from './kube-connection.js';

/** One event of a watch: ADDED, MODIFIED, DELETED, BOOKMARK, or ERROR (whose object is a Status). */
export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

/** A response body larger than this is refused: nothing keylease reads comes near it. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * The few REST calls keylease makes to the Kubernetes API (read, create, list and watch), as JSON over
 * one keep-alive connection pool. Errors never carry the token or request bodies.
 */
export class KubeClient {
  readonly #agent: HttpAgent;
  readonly #https: boolean;

  constructor(
    readonly connection: KubeConnection,
    private readonly requestTimeoutMs = 15_000,
  ) {
    this.#https = connection.server.startsWith('https:');
    this.#agent = this.#https
      ? new HttpsAgent({
          keepAlive: true,
          ca: connection.caPem ?? undefined,
          cert: connection.clientCertPem ?? undefined,
          key: connection.clientKeyPem ?? undefined,
          rejectUnauthorized: !connection.insecureSkipTlsVerify,
        })
      : new HttpAgent({ keepAlive: true });
  }

  get<T>(path: string): Promise<T> {
    return this.#json<T>('GET', path, undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.#json<T>('POST', path, body);
  }

  /**
   * Streams a watch until the server ends it (its timeoutSeconds), `signal` aborts it, or it fails.
   * Resolves when the stream ends cleanly; rejects on an HTTP error or a broken stream.
   */
  async watch<T>(path: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
    const response = await this.#send('GET', path, undefined, signal, null);
    if (response.statusCode !== 200) throw await this.#errorOf('GET', path, response);
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        pending += chunk;
        for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line === '') continue;
          try {
            onEvent(JSON.parse(line) as WatchEvent<T>);
          } catch (error) {
            response.destroy();
            reject(error instanceof SyntaxError ? new Error(`the watch of ${path} sent a line that is not JSON`) : error);
            return;
          }
        }
        if (pending.length > MAX_BODY_BYTES) response.destroy(new Error(`the watch of ${path} sent an event over ${MAX_BODY_BYTES} bytes`));
      });
      response.once('end', () => resolve());
      response.once('error', (error) => reject(signal.aborted ? signal.reason : error));
      response.once('aborted', () => reject(signal.aborted ? signal.reason : new Error(`the watch of ${path} was cut off`)));
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  async #json<T>(method: string, path: string, body: unknown): Promise<T> {
    const response = await this.#send(method, path, body, undefined, this.requestTimeoutMs);
    if (response.statusCode! < 200 || response.statusCode! >= 300) throw await this.#errorOf(method, path, response);
    const text = await readBody(response);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new Error(`${method} ${path}: the API server answered with something that is not JSON`);
    }
  }

  #send(method: string, path: string, body: unknown, signal: AbortSignal | undefined, timeoutMs: number | null): Promise<IncomingMessage> {
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const token = this.connection.token?.();
    if (token) headers['authorization'] = `Bearer ${token}`;
    const send = this.#https ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(`${this.connection.server}${path}`, { method, headers, agent: this.#agent, ...(signal ? { signal } : {}) }, resolve);
      if (timeoutMs !== null) request.setTimeout(timeoutMs, () => request.destroy(new Error(`${method} ${path}: no answer from the API server within ${timeoutMs} ms`)));
      request.once('error', (error) => reject(signal?.aborted ? signal.reason : new Error(`${method} ${path}: ${error.message}`)));
      request.end(payload ?? undefined);
    });
  }

  async #errorOf(method: string, path: string, response: IncomingMessage): Promise<KubeApiError> {
    const text = await readBody(response).catch(() => '');
    let reason = '';
    let message = '';
    try {
      const status = JSON.parse(text) as { reason?: unknown; message?: unknown };
      if (typeof status.reason === 'string') reason = status.reason;
      if (typeof status.message === 'string') message = status.message.slice(0, 300);
    } catch {
      // Not a Status object (a proxy's page, say): the HTTP code is all there is.
    }
    return new KubeApiError(response.statusCode ?? 0, reason, `${method} ${path}: HTTP ${response.statusCode}${reason ? ` ${reason}` : ''}${message ? `: ${message}` : ''}`);
  }
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) response.destroy(new Error(`the answer is over ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', reject);
  });
}
