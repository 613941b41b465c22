import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyProtection, NewPoolKey } from '../core/index.js';
import type { PoolSecrets } from '../keys/pool-secrets.js';
import type { ReplicatedLog } from '../replication/types.js';
import { interchangeOf } from '../allocation/protection-interchange.js';
import { parseKeystore } from '../../shared/eth/keystore.js';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import type { Logger } from '../../shared/log/logger.js';
import { bearerMatches } from './admin-token.js';
import { readJsonBody, replyJson } from './http-json.js';
import { confirmForeignKeys, importProtectionOnly, listForeignKeys, mergePoolProtection, readPoolInterchange, type ProtectionReport } from './protection-admin.js';

export interface KeymanagerAdminOptions {
  readonly log: ReplicatedLog;
  readonly secrets: PoolSecrets;
  readonly pool: string;
  /** The current admin token (re-read when its file changes). */
  readonly token: () => string;
  readonly wallMs: () => number;
  readonly logger: Logger;
}

const KEYSTORES_PATH = '/eth/v1/keystores';
/** Not part of the Keymanager API: the pool's slashing protection as an EIP-3076 interchange (GET), or merged into it (POST). */
const PROTECTION_PATH = '/slashing-protection';
/** Not part of the Keymanager API: keys found in use on chain before the pool recorded them (GET), and the operator's confirmation (POST …/confirm). */
const FOREIGN_PATH = '/foreign-keys';
const FOREIGN_CONFIRM_PATH = '/foreign-keys/confirm';
/** Thousands of keystores in one import are normal for an operator moving a fleet. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const PUBKEY = /^0x[0-9a-fA-F]{96}$/;
/** Keystore decryptions in flight: the KDF runs on libuv's pool, which has four threads. */
const DECRYPT_CONCURRENCY = 2;

/**
 * The standard Keymanager API (ethereum/keymanager-APIs, local keystores) on the coordinator, for the
 * operator: list the pool's keys (with their state and holder in an extra field), import keystores with
 * passwords and slashing protection, delete unallocated keys and get their slashing protection back.
 * Returns false when the path is not this API's.
 */
export async function routeKeymanagerAdmin(request: IncomingMessage, response: ServerResponse, url: URL, options: KeymanagerAdminOptions): Promise<boolean> {
  const path = url.pathname;
  if (![KEYSTORES_PATH, PROTECTION_PATH, FOREIGN_PATH, FOREIGN_CONFIRM_PATH].includes(path)) return false;
  if (!request.headers.authorization) {
    replyJson(response, 401, { message: 'missing bearer token: send Authorization: Bearer <contents of the api-token file>' });
    return true;
  }
  if (!bearerMatches(request.headers.authorization, options.token())) {
    replyJson(response, 403, { message: 'wrong bearer token: use the contents of the coordinator\'s api-token file' });
    return true;
  }
  try {
    if (path === PROTECTION_PATH) {
      if (request.method === 'GET') replyJson(response, 200, await exportProtection(url.searchParams.get('pubkey'), options));
      else if (request.method === 'POST') replyJson(response, 200, await importProtectionOnly(await readJsonBody(request, MAX_BODY_BYTES), options));
      else replyJson(response, 405, { message: 'use GET to export or POST to import an EIP-3076 interchange' });
    } else if (path === FOREIGN_PATH) {
      if (request.method !== 'GET') replyJson(response, 405, { message: `use GET; confirm keys with POST ${FOREIGN_CONFIRM_PATH}` });
      else replyJson(response, 200, await listForeignKeys(options));
    } else if (path === FOREIGN_CONFIRM_PATH) {
      if (request.method !== 'POST') replyJson(response, 405, { message: 'use POST with {"pubkeys": [...]}' });
      else replyJson(response, 200, await confirmForeignKeys(await readJsonBody(request, MAX_BODY_BYTES), options));
    } else if (request.method === 'GET') replyJson(response, 200, await list(options));
    else if (request.method === 'POST') replyJson(response, 200, await importKeystores(await readJsonBody(request, MAX_BODY_BYTES), options));
    else if (request.method === 'DELETE') replyJson(response, 200, await deleteKeystores(await readJsonBody(request, MAX_BODY_BYTES), options));
    else replyJson(response, 405, { message: `method ${request.method} not allowed: use GET, POST or DELETE` });
  } catch (error) {
    if (error instanceof KeyleaseError && error.code === 'BAD_REQUEST') replyJson(response, 400, { message: error.message });
    else throw error;
  }
  return true;
}

/** The slashing protection the pool knows, for every key or for one (`?pubkey=0x…`), as EIP-3076 minimal form. */
async function exportProtection(pubKey: string | null, options: KeymanagerAdminOptions): Promise<unknown> {
  if (pubKey !== null && !PUBKEY.test(pubKey)) throw new KeyleaseError('BAD_REQUEST', 'pubkey must be a 0x-prefixed 48-byte public key');
  const { keys, genesisValidatorsRoot } = await options.log.read((state) => ({
    keys: [...state.keys.values()].filter((k) => k.pool === options.pool && (pubKey === null || k.pubKey === pubKey.toLowerCase())).map((k) => ({ pubKey: k.pubKey, protection: k.protection })),
    genesisValidatorsRoot: state.pools.get(options.pool)!.genesisValidatorsRoot,
  }));
  if (pubKey !== null && keys.length === 0) throw new KeyleaseError('BAD_REQUEST', `key ${pubKey} is not in pool ${options.pool}`);
  return JSON.parse(interchangeOf(genesisValidatorsRoot, keys));
}

async function list(options: KeymanagerAdminOptions): Promise<unknown> {
  const keys = await options.log.read((state) => [...state.keys.values()].filter((k) => k.pool === options.pool).map((k) => ({ ...k })));
  return {
    data: keys.map((key) => ({
      validating_pubkey: key.pubKey,
      derivation_path: key.path,
      readonly: false,
      // Not in the spec: where the key is now. Clients ignore unknown fields.
      keylease: { pool: key.pool, state: key.state, holder: key.holderPod, cooling_until: key.coolingUntilMs === null ? null : new Date(key.coolingUntilMs).toISOString(), foreign: Boolean(key.foreign) },
    })),
  };
}

type ImportStatus = { status: 'imported' | 'duplicate' | 'error'; message?: string };

/**
 * Imports keystores. Slashing protection is never dropped: a key already in the pool is reported
 * `duplicate` and its protection merged (watermarks only go up), protection for pool keys outside the
 * request is merged too, and protection for keys that are neither in the request nor in the pool
 * refuses the whole import, naming them. `keylease_protection` lists every merge.
 */
async function importKeystores(body: Record<string, unknown>, options: KeymanagerAdminOptions): Promise<unknown> {
  const keystores = body['keystores'];
  const passwords = body['passwords'];
  if (!Array.isArray(keystores) || !Array.isArray(passwords) || keystores.length !== passwords.length || keystores.length === 0) {
    throw new KeyleaseError('BAD_REQUEST', 'give keystores and passwords as two lists of the same, non-zero length');
  }
  if (!keystores.every((k) => typeof k === 'string') || !passwords.every((p) => typeof p === 'string')) throw new KeyleaseError('BAD_REQUEST', 'keystores and passwords must be strings');
  const protection = readProtection(body['slashing_protection'], options);
  const inPool = await options.log.read((state) => new Set([...state.keys.values()].filter((k) => k.pool === options.pool).map((k) => k.pubKey)));
  const requested = new Set((keystores as string[]).map(declaredPubKey).filter((p): p is string => p !== null));
  const stray = Object.keys(protection).filter((pubKey) => !requested.has(pubKey) && !inPool.has(pubKey));
  if (stray.length > 0) {
    throw new KeyleaseError('BAD_REQUEST', `slashing_protection names keys that are neither in this import nor in pool ${options.pool}, so nothing was imported: ${stray.join(', ')}`);
  }

  const statuses: ImportStatus[] = new Array(keystores.length);
  const sealed: Array<NewPoolKey | null> = new Array(keystores.length).fill(null);
  let next = 0;
  await Promise.all(
    Array.from({ length: DECRYPT_CONCURRENCY }, async () => {
      for (let i = next++; i < keystores.length; i = next++) {
        try {
          sealed[i] = await options.secrets.sealImported(keystores[i] as string, passwords[i] as string);
        } catch (error) {
          statuses[i] = { status: 'error', message: error instanceof KeyleaseError ? error.message : 'the keystore could not be read' };
        }
      }
    }),
  );
  const known = await options.log.read((state) => new Set(state.keys.keys()));
  const fresh: NewPoolKey[] = [];
  for (const [i, key] of sealed.entries()) {
    if (!key) continue;
    if (known.has(key.pubKey) || fresh.some((k) => k.pubKey === key.pubKey)) statuses[i] = { status: 'duplicate' };
    else fresh.push({ ...key, protection: protection[key.pubKey] ?? null });
  }
  if (fresh.length > 0) {
    const result = await options.log.propose({ type: 'ImportKeys', nowMs: options.wallMs(), pool: options.pool, keys: fresh });
    for (const [i, key] of sealed.entries()) {
      if (!key || statuses[i]) continue;
      statuses[i] = result.ok ? { status: 'imported' } : { status: 'error', message: result.refusal.message };
    }
    if (result.ok) options.logger.info('keys imported through the Keymanager API', { pool: options.pool, keys: fresh.length });
  }
  // Everything else the interchange covers is already in the pool: merged, never dropped.
  const toMerge = Object.fromEntries(Object.entries(protection).filter(([pubKey]) => !fresh.some((k) => k.pubKey === pubKey) && inPool.has(pubKey)));
  const merged = await mergePoolProtection(toMerge, options);
  for (const [i, key] of sealed.entries()) {
    const report = key && statuses[i]?.status === 'duplicate' ? merged.find((r) => r.pubkey === key.pubKey) : undefined;
    if (report) statuses[i] = { status: 'duplicate', message: duplicateMessage(report) };
  }
  return { data: statuses, keylease_protection: merged };
}

/** The public key a keystore names, if it names one; its slashing protection may come with it. */
function declaredPubKey(keystoreJson: string): string | null {
  try {
    const pubkey = parseKeystore(keystoreJson).pubkey;
    return pubkey ? '0x' + pubkey.replace(/^0x/, '').toLowerCase() : null;
  } catch {
    return null;
  }
}

function duplicateMessage(report: ProtectionReport): string {
  const mark = (name: string, before: string | null, after: string | null) => (before === after ? null : `${name} ${before ?? 'none'} → ${after}`);
  const changes = [
    mark('block slot', report.before.block_slot, report.after.block_slot),
    mark('source epoch', report.before.source_epoch, report.after.source_epoch),
    mark('target epoch', report.before.target_epoch, report.after.target_epoch),
  ].filter(Boolean);
  const what = changes.length > 0 ? `its slashing protection was merged (${changes.join(', ')})` : 'its slashing protection was merged; no watermark was higher than the pool\'s';
  return `already in the pool; ${what}${report.foreign_cleared ? '; it was foreign and may now be handed out' : ''}`;
}

/** Slashing protection sent with an import, per key; refused as a whole (400) if it is not for this pool's network. */
function readProtection(value: unknown, options: KeymanagerAdminOptions): Record<string, KeyProtection> {
  if (value === undefined || value === null || value === '') return {};
  if (typeof value !== 'string') throw new KeyleaseError('BAD_REQUEST', 'slashing_protection must be the EIP-3076 interchange as a JSON string');
  return readPoolInterchange(value, options);
}

type DeleteStatus = { status: 'deleted' | 'not_active' | 'not_found' | 'error'; message?: string };

async function deleteKeystores(body: Record<string, unknown>, options: KeymanagerAdminOptions): Promise<unknown> {
  const pubkeys = body['pubkeys'];
  if (!Array.isArray(pubkeys) || !pubkeys.every((p) => typeof p === 'string' && PUBKEY.test(p))) {
    throw new KeyleaseError('BAD_REQUEST', 'give pubkeys as a list of 0x-prefixed 48-byte public keys');
  }
  const requested = (pubkeys as string[]).map((p) => p.toLowerCase());
  const found = await options.log.read((state) => new Map(requested.map((pubKey) => [pubKey, state.keys.get(pubKey)] as const)));
  const statuses: DeleteStatus[] = [];
  const removable: string[] = [];
  for (const pubKey of requested) {
    const key = found.get(pubKey);
    if (!key || key.pool !== options.pool) statuses.push({ status: 'not_found' });
    else if (key.state !== 'unallocated') statuses.push({ status: 'error', message: `the key is ${key.state}${key.holderPod ? ` by pod ${key.holderPod}` : ''}: release it (or wait for cooling) first` });
    else if (removable.includes(pubKey)) statuses.push({ status: 'not_active' });
    else {
      removable.push(pubKey);
      statuses.push({ status: 'deleted' });
    }
  }
  const genesisValidatorsRoot = options.log.peek((state) => state.pools.get(options.pool)!.genesisValidatorsRoot);
  if (removable.length === 0) return { data: statuses, slashing_protection: interchangeOf(genesisValidatorsRoot, []) };
  const result = await options.log.propose({ type: 'RemoveKeys', nowMs: options.wallMs(), pool: options.pool, pubKeys: removable });
  if (!result.ok) {
    // The state changed since it was read (a claim took a key): nothing was removed.
    return { data: statuses.map((s) => (s.status === 'deleted' ? { status: 'error', message: result.refusal.message } : s)), slashing_protection: interchangeOf(genesisValidatorsRoot, []) };
  }
  options.logger.info('keys deleted through the Keymanager API', { pool: options.pool, keys: removable.length });
  return { data: statuses, slashing_protection: interchangeOf(genesisValidatorsRoot, result.value.removed) };
}
