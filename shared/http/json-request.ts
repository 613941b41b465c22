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

export interface JsonResponse {
  readonly status: number;
  readonly text: string;
}

/**
 * One HTTP(S) exchange with a JSON body, trusting a given CA for https (global fetch cannot take one).
 * Rejects on a network failure or timeout; any HTTP status resolves.
 */
export function requestJson(url: string, options: JsonRequest = {}): Promise<JsonResponse> {
  const target = new URL(url);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers };
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      target,
      { method: options.method ?? 'GET', headers, timeout: options.timeoutMs ?? 10_000, ...(target.protocol === 'https:' && options.caPem ? { ca: options.caPem } : {}) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${target.origin} within ${options.timeoutMs ?? 10_000} ms`)));
    request.on('error', reject);
    request.end(body);
  });
}
