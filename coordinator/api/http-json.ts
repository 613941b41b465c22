import type { IncomingMessage, ServerResponse } from 'node:http';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';

/** Reads a JSON object body of at most `maxBytes`; anything else is a BAD_REQUEST naming the problem. */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new KeyleaseError('BAD_REQUEST', `request body is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new KeyleaseError('BAD_REQUEST', 'request body is not a JSON object');
}

export function replyJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body) + '\n');
}
