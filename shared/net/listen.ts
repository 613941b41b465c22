import { createServer } from 'node:net';
import { ConfigError } from '../errors/keylease-error.js';

const LISTEN_CODES: Record<string, string> = {
  EADDRINUSE: 'another process already listens on it',
  EACCES: 'this process may not listen on it (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not one of this machine\'s',
};

/**
 * Starts a listener, turning "cannot listen" into an error that names the address and the flag that
 * moves it. A fixed port is tried first with a plain socket: gRPC hides the cause ("No address added
 * out of total 1 resolved", also printed on stderr by grpc-js itself), a plain socket tells it.
 */
export async function listenOn<T>(address: { host: string; port: number }, flag: string, start: () => Promise<T>): Promise<T> {
  const cause = address.port === 0 ? null : await probe(address);
  if (cause !== null && cause in LISTEN_CODES) throw listenError(address, flag, cause);
  try {
    return await start();
  } catch (error) {
    // Taken between the probe and the listener (a race with another process).
    const code = errnoOf(error) ?? (isGrpcBindFailure(error) ? await probe(address) : null);
    if (code === null || !(code in LISTEN_CODES)) throw error;
    throw listenError(address, flag, code, error);
  }
}

function listenError(address: { host: string; port: number }, flag: string, code: string, cause?: unknown): ConfigError {
  const shown = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  return new ConfigError(`cannot listen on ${shown} (--${flag}): ${LISTEN_CODES[code]} (${code}). Stop what uses it, or move this listener with --${flag} HOST:PORT (port 0 picks a free one)`, { cause });
}

function errnoOf(error: unknown): string | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code in LISTEN_CODES ? code : null;
}

function isGrpcBindFailure(error: unknown): boolean {
  return error instanceof Error && /No address added out of total/.test(error.message);
}

/** The error a plain TCP listener gets on `address` now, if any. */
function probe(address: { host: string; port: number }): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? null));
    server.listen(address.port, address.host, () => server.close(() => resolve(null)));
  });
}
