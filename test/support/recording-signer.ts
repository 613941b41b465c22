import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { interopPubkey, interopSign } from './interop-keys.js';

/**
 * A remote signer that answers as Web3Signer's eth2 API does (GET /upcheck, GET /api/v1/eth2/publicKeys,
 * POST /api/v1/eth2/sign/{pubkey}) for interop validator keys, and records every request, so tests see
 * exactly what a real validator client sends. It signs the request's `signingRoot` as given: it checks
 * nothing, it is a recorder (the chain accepting what it signed shows the roots were right).
 *
 * Faults, for tests of how a client copes: `refuse(type, status)` answers that status instead of signing
 * messages of one type; `responseFormat = 'text'` answers the bare signature as text/plain (Web3Signer's
 * default when the client does not ask for JSON) instead of `{"signature": …}`.
 */
export interface RecordedRequest {
  /** Milliseconds since the Unix epoch. */
  readonly receivedAt: number;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The parsed JSON body of a sign request; undefined for GETs. */
  readonly body: SignRequestBody | undefined;
  readonly status: number;
  /** The signature answered, when one was. */
  readonly signature?: string;
}

export interface SignRequestBody {
  readonly type?: string;
  readonly signingRoot?: string;
  readonly fork_info?: { readonly fork: { readonly previous_version: string; readonly current_version: string; readonly epoch: string }; readonly genesis_validators_root: string };
  readonly [message: string]: unknown;
}

const SIGN_PATH = /^\/api\/v1\/eth2\/sign\/(0x[0-9a-fA-F]{96})$/;
const ROOT = /^0x[0-9a-fA-F]{64}$/;

export class RecordingSigner {
  readonly requests: RecordedRequest[] = [];
  responseFormat: 'json' | 'text' = 'json';
  private readonly refusals = new Map<string, number>();
  private readonly keys = new Map<string, number>();
  private readonly waiters: Array<{ match: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }> = [];

  private constructor(private readonly server: Server, readonly port: number, validatorIndices: readonly number[]) {
    this.setKeys(validatorIndices);
  }

  static async start(options: { validatorIndices: readonly number[]; port?: number }): Promise<RecordingSigner> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const signer = new RecordingSigner(server, (server.address() as AddressInfo).port, options.validatorIndices);
    server.on('request', (req, res) => void signer.handle(req, res));
    return signer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The interop validators whose keys this signer holds (and lists on /api/v1/eth2/publicKeys). */
  setKeys(validatorIndices: readonly number[]): void {
    this.keys.clear();
    for (const index of validatorIndices) this.keys.set(interopPubkey(index), index);
  }

  /** Answers `status` to every sign request of `type` from now on; `allow` undoes it. */
  refuse(type: string, status: number): void {
    this.refusals.set(type, status);
  }

  allow(type: string): void {
    this.refusals.delete(type);
  }

  /** The sign requests recorded so far (POSTs to /api/v1/eth2/sign/…). */
  signRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  /** Resolves with the first request (past or future) that matches; rejects after `timeoutMs`. */
  waitFor(match: (request: RecordedRequest) => boolean, timeoutMs: number, what: string): Promise<RecordedRequest> {
    const seen = this.requests.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        const types = [...new Set(this.signRequests().map((r) => r.body?.type))].join(', ');
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; sign requests so far: ${this.signRequests().length} (${types})`));
      }, timeoutMs);
      const waiter = { match, resolve: (r: RecordedRequest) => (clearTimeout(timer), resolve(r)) };
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = (req.url ?? '').split('?')[0]!;
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    const answer = this.answer(req.method ?? '', path, Buffer.concat(chunks).toString('utf8'));
    this.record({ receivedAt: Date.now(), method: req.method ?? '', path, headers, body: answer.body, status: answer.status, ...(answer.signature ? { signature: answer.signature } : {}) });
    res.writeHead(answer.status, { 'content-type': answer.contentType });
    res.end(answer.text);
  }

  private answer(method: string, path: string, text: string): { status: number; contentType: string; text: string; body?: SignRequestBody; signature?: string } {
    const json = (status: number, value: unknown) => ({ status, contentType: 'application/json', text: JSON.stringify(value) });
    if (method === 'GET' && path === '/upcheck') return json(200, { status: 'OK' });
    if (method === 'GET' && path === '/api/v1/eth2/publicKeys') return json(200, [...this.keys.keys()]);
    const sign = SIGN_PATH.exec(path);
    if (method !== 'POST' || !sign) return json(404, { message: `no route for ${method} ${path}` });
    let body: SignRequestBody;
    try {
      body = JSON.parse(text) as SignRequestBody;
    } catch {
      return json(400, { message: 'the body is not JSON' });
    }
    const index = this.keys.get(sign[1]!.toLowerCase());
    if (index === undefined) return { ...json(404, { message: `no key ${sign[1]}` }), body };
    const refusal = body.type === undefined ? undefined : this.refusals.get(body.type);
    if (refusal !== undefined) return { ...json(refusal, { message: `refused ${body.type} (test fault)` }), body };
    if (typeof body.signingRoot !== 'string' || !ROOT.test(body.signingRoot)) return { ...json(400, { message: 'signingRoot is missing' }), body };
    const signature = interopSign(index, Buffer.from(body.signingRoot.slice(2), 'hex'));
    if (this.responseFormat === 'text') return { status: 200, contentType: 'text/plain', text: signature, body, signature };
    return { ...json(200, { signature }), body, signature };
  }

  private record(request: RecordedRequest): void {
    this.requests.push(request);
    for (const waiter of [...this.waiters]) {
      if (waiter.match(request)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(request);
      }
    }
  }
}
