import { readFile } from 'node:fs/promises';
import type { FlagSpec, FlagValues } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';

/** The flags of every command that talks to the replicas' admin endpoints. */
export const ADMIN_ACCESS_FLAGS: readonly FlagSpec[] = [
  { name: 'http', kind: 'string', required: true, description: 'HTTP endpoints of the coordinator replicas, URL[,URL…]; a change goes to whichever leads.' },
  { name: 'token-file', kind: 'string', required: true, description: 'File with the admin bearer token (api-token.txt in a replica\'s data directory).' },
  { name: 'tls-ca-file', kind: 'string', description: 'PEM CA that signed the replicas\' certificates, to trust their https:// endpoints.' },
];

/** The replicas' URLs, the CA to trust them with (if any) and the admin token, read from the flags' files. */
export async function adminAccess(values: FlagValues): Promise<{ urls: string[]; caPem: Buffer | null; token: string }> {
  const urls = (values['http'] as string).split(',').map((u) => u.trim().replace(/\/$/, '')).filter(Boolean);
  const caFile = values['tls-ca-file'] as string | undefined;
  const caPem = caFile ? await readFile(caFile).catch((cause) => { throw new ConfigError(`cannot read --tls-ca-file ${caFile}`, { cause }); }) : null;
  const tokenFile = values['token-file'] as string;
  const token = (await readFile(tokenFile, 'utf8').catch((cause) => { throw new ConfigError(`cannot read --token-file ${tokenFile}`, { cause }); })).trim();
  return { urls, caPem, token };
}
