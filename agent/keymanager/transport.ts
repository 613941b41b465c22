import { readFile } from 'node:fs/promises';
import { HttpTimeoutError, requestJson, type JsonResponse } from '../../shared/http/json-request.js';
import { KeymanagerError } from './errors.js';
import { scrubSecrets } from './scrub.js';

export interface KeymanagerConnection {
  /** Where the validator client serves the Keymanager API, e.g. http://127.0.0.1:5062 */
  readonly baseUrl: string;
  readonly token: string;
  readonly timeoutMs: number;
  /**
   * For an https:// API with a certificate of its own (Teku's, say): that certificate or its CA, as
   * PEM. Read on every call, so a renewed one applies without a restart.
   */
  readonly caFile?: string | null;
}

/** Certificate checks that fail because the certificate is not trusted (rather than the network failing). */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export interface KeymanagerCall {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  /** Strings of the request that must never appear in an error (passwords, keystores). */
  readonly secrets?: readonly string[];
  /** Advice for a status this endpoint is known to answer for a known reason. */
  readonly adviceFor?: (httpStatus: number) => string | undefined;
}

/**
 * One JSON call with bearer authentication and a deadline covering the whole exchange. Returns the parsed
 * 2xx body; every failure becomes a KeymanagerError that names the endpoint, the status and what to do.
 */
export async function callKeymanager(connection: KeymanagerConnection, call: KeymanagerCall): Promise<unknown> {
  const endpoint = `${call.method} ${call.path}`;
  const url = `${connection.baseUrl.replace(/\/+$/, '')}${call.path}`;
  const secrets = call.secrets ?? [];
  const caPem = await readCa(connection.caFile ?? null, endpoint);
  let response: JsonResponse;
  try {
    response = await requestJson(url, { method: call.method, headers: { authorization: `Bearer ${connection.token}` }, body: call.body, caPem, timeoutMs: connection.timeoutMs });
  } catch (error) {
    throw transportError(endpoint, url, connection.timeoutMs, error);
  }
  if (response.status < 200 || response.status > 299) throw statusError(endpoint, url, response.status, serverMessage(response.text, secrets), call.adviceFor?.(response.status));
  try {
    return JSON.parse(response.text);
  } catch {
    throw new KeymanagerError('KEYMANAGER_RESPONSE', endpoint, response.status, `${endpoint} at ${url} answered ${response.status} with a body that is not JSON: is --keymanager-url the validator client's Keymanager API?`);
  }
}

async function readCa(caFile: string | null, endpoint: string): Promise<Buffer | null> {
  if (caFile === null) return null;
  try {
    return await readFile(caFile);
  } catch (cause) {
    throw new KeymanagerError('KEYMANAGER_TLS', endpoint, null, `cannot read --keymanager-ca-file ${caFile}: check the path (a mounted Secret?)`, { cause });
  }
}

function transportError(endpoint: string, url: string, timeoutMs: number, error: unknown): KeymanagerError {
  if (error instanceof HttpTimeoutError) {
    return new KeymanagerError('KEYMANAGER_TIMEOUT', endpoint, null, `${endpoint} at ${url} did not answer within ${timeoutMs} ms: check that the validator client is running and not overloaded`, { cause: error });
  }
  const code = (error as { code?: string } | undefined)?.code;
  if (code !== undefined && UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    return new KeymanagerError('KEYMANAGER_TLS', endpoint, null, `${endpoint} at ${url}: the validator client's certificate is not trusted (${code}): give that certificate, or the CA that signed it, with --keymanager-ca-file`, { cause: error });
  }
  const reason = code ?? (error as Error | undefined)?.message ?? String(error);
  return new KeymanagerError('KEYMANAGER_UNREACHABLE', endpoint, null, `cannot reach the Keymanager API for ${endpoint} at ${url} (${reason}): check --keymanager-url and that the validator client runs with its Keymanager API enabled`, { cause: error });
}

function statusError(endpoint: string, url: string, status: number, message: string, advice: string | undefined): KeymanagerError {
  const said = message ? ` ("${message}")` : '';
  if (status === 401 || status === 403) {
    const what = status === 401 ? 'found no bearer token' : 'refused the bearer token';
    return new KeymanagerError(
      'KEYMANAGER_AUTH',
      endpoint,
      status,
      `${endpoint} at ${url}: the validator client ${what} (${status})${said}: point --keymanager-token-file at the token file the validator client wrote (e.g. api-token.txt) and check it is that client's current token`,
    );
  }
  const todo = advice ?? (status >= 500 ? 'look at the validator client\'s log and retry' : 'this is a bug in keylease or an incompatible validator client: report it with the validator client\'s name and version');
  return new KeymanagerError('KEYMANAGER_HTTP', endpoint, status, `${endpoint} at ${url} answered ${status}${said}: ${todo}`);
}

/** The ErrorResponse `message` (keymanager-oapi.yaml types/error_response.yaml), or the raw text, scrubbed. */
function serverMessage(text: string, secrets: readonly string[]): string {
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed?.message === 'string') message = parsed.message;
  } catch {
    // Not JSON (a proxy's HTML page, say): quote the text itself.
  }
  return scrubSecrets(message.trim(), secrets);
}
