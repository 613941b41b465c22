import { KeymanagerError } from './errors.js';
import { scrubSecrets } from './scrub.js';

export interface KeymanagerConnection {
  /** Where the validator client serves the Keymanager API, e.g. http://127.0.0.1:5062 */
  readonly baseUrl: string;
  readonly token: string;
  readonly timeoutMs: number;
}

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
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: call.method,
      headers: {
        authorization: `Bearer ${connection.token}`,
        accept: 'application/json',
        ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      signal: AbortSignal.timeout(connection.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    throw transportError(endpoint, url, connection.timeoutMs, error);
  }
  if (!response.ok) throw statusError(endpoint, url, response.status, serverMessage(text, secrets), call.adviceFor?.(response.status));
  try {
    return JSON.parse(text);
  } catch {
    throw new KeymanagerError('KEYMANAGER_RESPONSE', endpoint, response.status, `${endpoint} at ${url} answered ${response.status} with a body that is not JSON: is --keymanager-url the validator client's Keymanager API?`);
  }
}

function transportError(endpoint: string, url: string, timeoutMs: number, error: unknown): KeymanagerError {
  const name = (error as Error | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new KeymanagerError('KEYMANAGER_TIMEOUT', endpoint, null, `${endpoint} at ${url} did not answer within ${timeoutMs} ms: check that the validator client is running and not overloaded`, { cause: error });
  }
  // fetch reports network failures as TypeError("fetch failed") with the system error as its cause.
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const reason = cause?.code ?? cause?.message ?? (error as Error | undefined)?.message ?? String(error);
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
