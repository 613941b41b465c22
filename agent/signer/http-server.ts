import { listenHttp } from '../../shared/http/listen-http.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import { SignerError, type SignerErrorCode } from './errors.js';
import type { InAgentSigner } from './in-agent-signer.js';
import { RefusalLog } from './refusal-log.js';

export interface RemoteSignerServerOptions {
  /** Largest request body accepted (413 above it). Default 8 MiB: a full block with payload fits. */
  readonly maxBodyBytes?: number;
  /** A refusal cause already logged is logged again, with its count, at most this often. Default 60 s. */
  readonly refusalLogWindowMs?: number;
  readonly clock?: Clock;
}

/**
 * HTTP status per refusal. A request after the fence deadline gets 503, not 412: 412 says the message
 * itself is slashable (and monitoring treats it so), while a fenced signer refuses everything, for a
 * reason that a renewal can end.
 */
const STATUS: Readonly<Record<SignerErrorCode, number>> = {
  SIGNER_REQUEST: 400,
  SIGNER_ROOT_MISMATCH: 400,
  SIGNER_UNKNOWN_KEY: 404,
  SIGNER_SLASHABLE: 412,
  SIGNER_FENCED: 503,
  SIGNER_KEY: 500,
  SIGNER_STATE: 500,
};

const SIGN_PATH = /^\/api\/v1\/eth2\/sign\/([^/]+)$/;

/**
 * The remote signing API (ethereum/remote-signing-api, Web3Signer's eth2 API) over the signer:
 * GET /upcheck, GET /api/v1/eth2/publicKeys, POST /api/v1/eth2/sign/{pubkey}. The signature is JSON
 * `{"signature":"0x..."}` unless the Accept header asks for text/plain and not JSON: Lodestar (1.5.1)
 * sends no Accept header and parses JSON; Prysm, Teku and Vero read either by content type.
 */
export async function startRemoteSignerServer(
  signer: InAgentSigner,
  host: string,
  port: number,
  logger: Logger,
  options: RemoteSignerServerOptions = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024;
  const refusals = new RefusalLog(logger, options.clock ?? systemClock, options.refusalLogWindowMs ?? 60_000);

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const signMatch = SIGN_PATH.exec(path);
    if (signMatch) {
      if (request.method !== 'POST') return sendError(response, 405, 'use POST to sign', { allow: 'POST' });
      const identifier = decodePathPart(signMatch[1]!);
      readBody(request, maxBodyBytes).then(
        (body) => {
          if (body === null) {
            refusals.note('SIGNER_REQUEST', `request body larger than ${maxBodyBytes} bytes`, { status: 413, pubKey: identifier });
            return sendError(response, 413, `the request body is larger than ${maxBodyBytes} bytes`, { connection: 'close' });
          }
          return sign(signer, identifier, body, request.headers.accept, response, refusals);
        },
        () => response.destroy(),
      );
      return;
    }
    if (path === '/upcheck' || path === '/api/v1/eth2/publicKeys') {
      if (request.method !== 'GET') return sendError(response, 405, `use GET ${path}`, { allow: 'GET' });
      request.resume();
      if (path === '/upcheck') return void response.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
      return void response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(signer.heldPubKeys()));
    }
    request.resume();
    sendError(response, 404, 'not a path of the remote signing API: try /upcheck, /api/v1/eth2/publicKeys or /api/v1/eth2/sign/{pubkey}');
  });

  return listenHttp(server, host, port);
}

async function sign(signer: InAgentSigner, identifier: string, body: Buffer, accept: string | undefined, response: ServerResponse, refusals: RefusalLog): Promise<void> {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    refusals.note('SIGNER_REQUEST', 'request body is not JSON', { status: 400, pubKey: identifier });
    return sendError(response, 400, 'the request body is not JSON: send the signing request as application/json');
  }
  const type = typeof (json as { type?: unknown } | null)?.type === 'string' ? String((json as { type: string }).type).slice(0, 64) : null;
  try {
    const signature = '0x' + Buffer.from(await signer.sign(identifier, json)).toString('hex');
    if (prefersText(accept)) response.writeHead(200, { 'content-type': 'text/plain' }).end(signature);
    else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ signature }));
  } catch (error) {
    const status = error instanceof SignerError ? STATUS[error.code] : 500;
    const cause = error instanceof SignerError ? error.code : 'internal';
    // Messages name fields, roots and public keys, never key material (SignerError's contract);
    // anything else is reported without its message, which this code does not control.
    const message = error instanceof SignerError ? error.message : 'internal error while signing';
    refusals.note(cause, message, { status, pubKey: identifier.slice(0, 100), type, ...(error instanceof SignerError ? {} : { error: (error as Error)?.name }) });
    sendError(response, status, message);
  }
}

/** The body, or null once it exceeds `limit` bytes (the rest is discarded, the connection closed after the answer). */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (Number(request.headers['content-length'] ?? 0) > limit) {
      request.resume();
      return resolve(null);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    request.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return resolve(null);
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    request.on('error', reject);
  });
}

/** text/plain only if the client lists it and does not list JSON; anything else, or no Accept, gets JSON. */
function prefersText(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept.split(',').map((part) => part.split(';', 1)[0]!.trim().toLowerCase());
  const json = types.some((t) => t === 'application/json' || t === 'application/*');
  const text = types.some((t) => t === 'text/plain' || t === 'text/*');
  return text && !json;
}

/** A malformed %-escape is passed on as written: the signer then refuses it as an unknown key. */
function decodePathPart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function sendError(response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ code: status, message }));
}
