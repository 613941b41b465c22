import { KeymanagerError } from './errors.js';
import { scrubSecrets } from './scrub.js';

/**
 * The 200 bodies of the local keystore endpoints (keymanager-oapi.yaml, apis/local_keystores.yaml),
 * checked before anything relies on them: a client that drops or reorders statuses must not make us
 * believe a key was deleted.
 */
export interface ListedKeystore {
  /** Lowercase 0x hex (the API's Pubkey is case-insensitive). */
  readonly validatingPubkey: string;
  readonly derivationPath?: string;
  /** The client will refuse to delete this key through the API. */
  readonly readOnly: boolean;
}

export const IMPORT_STATUSES = ['imported', 'duplicate', 'error'] as const;
export type ImportStatus = (typeof IMPORT_STATUSES)[number];
export interface ImportResult {
  readonly status: ImportStatus;
  readonly message?: string;
}

export const DELETE_STATUSES = ['deleted', 'not_active', 'not_found', 'error'] as const;
export type DeleteStatus = (typeof DELETE_STATUSES)[number];
export interface DeleteResult {
  readonly pubkey: string;
  readonly status: DeleteStatus;
  readonly message?: string;
}
export interface DeleteKeystoresResult {
  /** In the order of the request. */
  readonly results: readonly DeleteResult[];
  /** EIP-3076 interchange JSON for the keys answered `deleted` or `not_active`, as the client sent it. */
  readonly slashingProtection: string;
}

const PUBKEY = /^0x[0-9a-fA-F]{96}$/;

export function parseListResponse(body: unknown): ListedKeystore[] {
  const endpoint = 'GET /eth/v1/keystores';
  return dataArray(body, endpoint).map((item, i) => {
    const entry = objectOf(item, endpoint, `data[${i}]`);
    const pubkey = entry['validating_pubkey'];
    if (typeof pubkey !== 'string' || !PUBKEY.test(pubkey)) throw shapeError(endpoint, `data[${i}].validating_pubkey is not a 0x-prefixed 48-byte key`);
    const derivationPath = entry['derivation_path'];
    return {
      validatingPubkey: pubkey.toLowerCase(),
      ...(typeof derivationPath === 'string' ? { derivationPath } : {}),
      readOnly: entry['readonly'] === true,
    };
  });
}

export function parseImportResponse(body: unknown, keystoreCount: number, secrets: readonly string[]): ImportResult[] {
  const endpoint = 'POST /eth/v1/keystores';
  const data = dataArray(body, endpoint);
  if (data.length !== keystoreCount) throw shapeError(endpoint, `it has ${data.length} statuses for ${keystoreCount} keystores`);
  return data.map((item, i) => ({ status: statusOf(item, IMPORT_STATUSES, endpoint, i), ...messageOf(item, secrets) }));
}

export function parseDeleteResponse(body: unknown, pubkeys: readonly string[]): DeleteKeystoresResult {
  const endpoint = 'DELETE /eth/v1/keystores';
  const data = dataArray(body, endpoint);
  if (data.length !== pubkeys.length) throw shapeError(endpoint, `it has ${data.length} statuses for ${pubkeys.length} keys`);
  const slashingProtection = (body as Record<string, unknown>)['slashing_protection'];
  if (typeof slashingProtection !== 'string') {
    // Lodestar once sent it as `slashingProtection` (ChainSafe/lodestar#4381).
    throw shapeError(endpoint, 'slashing_protection is missing or not a string; upgrade the validator client');
  }
  return {
    results: data.map((item, i) => ({ pubkey: pubkeys[i]!.toLowerCase(), status: statusOf(item, DELETE_STATUSES, endpoint, i), ...messageOf(item, []) })),
    slashingProtection,
  };
}

function dataArray(body: unknown, endpoint: string): unknown[] {
  const data = objectOf(body, endpoint, 'the body')['data'];
  if (!Array.isArray(data)) throw shapeError(endpoint, 'data is not an array');
  return data;
}

function statusOf<S extends string>(item: unknown, statuses: readonly S[], endpoint: string, i: number): S {
  const status = objectOf(item, endpoint, `data[${i}]`)['status'];
  if (!statuses.includes(status as S)) throw shapeError(endpoint, `data[${i}].status ${JSON.stringify(status)} is not one of ${statuses.join(', ')}`);
  return status as S;
}

function messageOf(item: unknown, secrets: readonly string[]): { message?: string } {
  const message = (item as Record<string, unknown>)['message'];
  // Clients written in Go send "" for an absent message.
  return typeof message === 'string' && message !== '' ? { message: scrubSecrets(message, secrets) } : {};
}

function objectOf(value: unknown, endpoint: string, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw shapeError(endpoint, `${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function shapeError(endpoint: string, why: string): KeymanagerError {
  return new KeymanagerError('KEYMANAGER_RESPONSE', endpoint, 200, `${endpoint} answered 200 but not as the Keymanager API specifies: ${why}. Check that the validator client implements the standard Keymanager API`);
}
