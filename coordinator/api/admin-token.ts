import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../../shared/errors/keylease-error.js';

export const DEFAULT_TOKEN_FILE = 'api-token.txt';

/**
 * The bearer token of the coordinator's admin endpoints. As validator clients do for their Keymanager
 * API, it is created on first start in the data directory (0600) unless a token file is given.
 */
export async function loadAdminToken(dataDir: string, tokenFile: string | null): Promise<{ token: string; path: string }> {
  const path = tokenFile ?? join(dataDir, DEFAULT_TOKEN_FILE);
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (token.length < 16) throw new ConfigError(`the admin token in ${path} is shorter than 16 characters: write a long random token (e.g. openssl rand -hex 32)`);
    return { token, path };
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || tokenFile !== null) {
      throw new ConfigError(`cannot read the admin token file ${path}: check --api-token-file`, { cause: error });
    }
  }
  const token = randomBytes(32).toString('hex');
  await writeFile(path, token + '\n', { mode: 0o600, flag: 'wx' });
  return { token, path };
}

/** Constant-time check of an `Authorization: Bearer …` header. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const a = Buffer.from(presented);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
