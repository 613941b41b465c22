import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface JsonRequest {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Trust this CA bundle for https URLs (a coordinator's own CA), instead of the system's. */
  readonly caPem?: Buffer | null;
  readonly timeoutMs?: number;
}

/** No complete answer within the request's deadline. */
export class HttpTimeoutError extends Error {
  override readonly name = 'HttpTimeoutError';
}

export interface JsonResponse {
  readonly status: number;
  readonly text: string;
}

/**
 * One HTTP(S) exchange with a JSON body, trusting a given CA for https (global fetch cannot take one).
 * The deadline covers the whole exchange. Rejects on a network or TLS failure (the system error, with
 * its code) or with HttpTimeoutError; any HTTP status resolves.
 */
export function requestJson(url: string, options: JsonRequest = {}): Promise<JsonResponse> {
  const target = new URL(url);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  // The length is given: Node frames no body on DELETE otherwise, and the Keymanager API's DELETE has one.
  const headers = { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }), ...options.headers };
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const request = send(
      target,
      { method: options.method ?? 'GET', headers, ...(target.protocol === 'https:' && options.caPem ? { ca: options.caPem } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', reject);
      },
    );
    const deadline = setTimeout(() => request.destroy(new HttpTimeoutError(`no answer from ${target.origin} within ${timeoutMs} ms`)), timeoutMs);
    request.on('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    request.end(body);
  });
}
