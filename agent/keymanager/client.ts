import { interchangeFor, parseInterchange, type Interchange } from '../../shared/eth/slashing-protection/index.js';
import { FenceFailedError, KeymanagerError } from './errors.js';
import { parseDeleteResponse, parseImportResponse, parseListResponse, type DeleteKeystoresResult, type DeleteResult, type ImportResult, type ListedKeystore } from './responses.js';
import { callKeymanager, type KeymanagerConnection } from './transport.js';

const KEYSTORES_PATH = '/eth/v1/keystores';
const PUBKEY = /^0x[0-9a-fA-F]{96}$/;

export interface ImportKeystoresRequest {
  /** EIP-2335 keystores, each as its JSON text. */
  readonly keystores: readonly string[];
  /** passwords[i] unlocks keystores[i]. */
  readonly passwords: readonly string[];
  /** EIP-3076 interchange JSON for the keys (the API asks callers to send it). */
  readonly slashingProtection?: string;
}

export interface HeldKeysReport {
  readonly exact: boolean;
  /** Expected but not listed by the client. */
  readonly missing: readonly string[];
  /** Listed by the client but not expected. */
  readonly unexpected: readonly string[];
}

export interface FenceResult {
  readonly results: readonly DeleteResult[];
  /**
   * The client's slashing protection for the fenced keys, cut down to those keys; null when it sent
   * something unreadable (then `slashingProtectionProblem` says what). The keys are out either way.
   */
  readonly slashingProtection: Interchange | null;
  readonly slashingProtectionProblem?: string;
}

/**
 * Client of a validator client's standard Keymanager API (ethereum/keymanager-APIs, local keystores).
 * The token lives in a private field so that logging the client cannot print it.
 */
export class KeymanagerClient {
  readonly #connection: KeymanagerConnection;

  constructor(options: { baseUrl: string; token: string; timeoutMs: number; caFile?: string | null }) {
    this.#connection = { baseUrl: options.baseUrl, token: options.token, timeoutMs: options.timeoutMs, caFile: options.caFile ?? null };
  }

  async listKeystores(): Promise<ListedKeystore[]> {
    return parseListResponse(await callKeymanager(this.#connection, { method: 'GET', path: KEYSTORES_PATH }));
  }

  /**
   * Per-keystore results in request order; a refused keystore is an `error` result, not an exception.
   * A malformed `slashingProtection` throws SlashingProtectionError before anything is sent.
   */
  async importKeystores(request: ImportKeystoresRequest): Promise<ImportResult[]> {
    if (request.keystores.length !== request.passwords.length) {
      throw new KeymanagerError('KEYMANAGER_REQUEST', `POST ${KEYSTORES_PATH}`, null, `${request.keystores.length} keystores but ${request.passwords.length} passwords: give one password per keystore`);
    }
    // Checked here so that a bad interchange is reported by field, not as a client's bare 400 or 500.
    if (request.slashingProtection !== undefined) parseInterchange(request.slashingProtection);
    const secrets = [...request.passwords, ...request.keystores];
    const body = await callKeymanager(this.#connection, {
      method: 'POST',
      path: KEYSTORES_PATH,
      body: { keystores: request.keystores, passwords: request.passwords, ...(request.slashingProtection === undefined ? {} : { slashing_protection: request.slashingProtection }) },
      secrets,
      adviceFor: (status) => importAdvice(status, request.slashingProtection !== undefined),
    });
    return parseImportResponse(body, request.keystores.length, secrets);
  }

  /** Deletes keys (the client stops signing with them first) and returns their slashing protection. */
  async deleteKeystores(pubkeys: readonly string[]): Promise<DeleteKeystoresResult> {
    const malformed = pubkeys.find((pubkey) => !PUBKEY.test(pubkey));
    if (malformed !== undefined) throw new KeymanagerError('KEYMANAGER_REQUEST', `DELETE ${KEYSTORES_PATH}`, null, `${JSON.stringify(malformed)} is not a 0x-prefixed 48-byte public key`);
    return parseDeleteResponse(await callKeymanager(this.#connection, { method: 'DELETE', path: KEYSTORES_PATH, body: { pubkeys } }), pubkeys);
  }

  /** Compares what the client lists with what it should hold. */
  async verifyHeldExactly(expectedPubkeys: Iterable<string>): Promise<HeldKeysReport> {
    const expected = new Set([...expectedPubkeys].map((pubkey) => pubkey.toLowerCase()));
    const listed = new Set((await this.listKeystores()).map((key) => key.validatingPubkey));
    const missing = [...expected].filter((pubkey) => !listed.has(pubkey)).sort();
    const unexpected = [...listed].filter((pubkey) => !expected.has(pubkey)).sort();
    return { exact: missing.length === 0 && unexpected.length === 0, missing, unexpected };
  }

  /**
   * Takes keys away from the client and proves it: DELETE, then GET. A key still listed afterwards, or one
   * DELETE answered `error` for, may still sign, so the fence fails with FenceFailedError. The status
   * alone is not trusted: clients remove a key from memory and from disk in separate steps that can
   * disagree (OffchainLabs/prysm#12281), and a client answering `deleted` while still signing would let
   * one key sign in two places.
   */
  async fence(pubkeys: readonly string[]): Promise<FenceResult> {
    const deletion = await this.deleteKeystores(pubkeys);
    const requested = new Set(pubkeys.map((pubkey) => pubkey.toLowerCase()));
    const stillListed = (await this.listKeystores()).map((key) => key.validatingPubkey).filter((pubkey) => requested.has(pubkey)).sort();
    const notDeleted = deletion.results.filter((result) => result.status === 'error');
    const protection = readableProtection(deletion.slashingProtection, requested);
    if (stillListed.length > 0 || notDeleted.length > 0) {
      const problems = [
        ...(stillListed.length > 0 ? [`it still lists ${stillListed.join(', ')} after DELETE answered ${statusesOf(deletion.results, stillListed)}`] : []),
        ...notDeleted.map((result) => `DELETE answered error for ${result.pubkey}${result.message ? ` (${result.message})` : ''}`),
      ];
      throw new FenceFailedError(stillListed, notDeleted.map((result) => result.pubkey), problems.join('; '), protection.interchange);
    }
    return protection.interchange
      ? { results: deletion.results, slashingProtection: protection.interchange }
      : { results: deletion.results, slashingProtection: null, slashingProtectionProblem: protection.problem };
  }
}

/**
 * The DELETE answer's interchange cut down to the requested keys: the spec forbids history of other keys
 * (flows/README.md, Delete notes), and Prysm had to be fixed to honour that (OffchainLabs/prysm#9938).
 */
function readableProtection(json: string, requested: ReadonlySet<string>): { interchange: Interchange; problem?: undefined } | { interchange: null; problem: string } {
  try {
    return { interchange: interchangeFor(parseInterchange(json), requested) };
  } catch (error) {
    return { interchange: null, problem: (error as Error).message };
  }
}

function importAdvice(status: number, sentSlashingProtection: boolean): string | undefined {
  if (!sentSlashingProtection) return undefined;
  if (status === 400) return 'the client could not read the request; the spec answers 400 for slashing_protection it cannot import (check it is for this network)';
  if (status === 500) return 'validator clients answer 500 when they cannot import the slashing_protection interchange (e.g. it is for another network\'s genesis_validators_root); check it before retrying';
  return undefined;
}

function statusesOf(results: readonly DeleteResult[], pubkeys: readonly string[]): string {
  const statuses = new Set(results.filter((result) => pubkeys.includes(result.pubkey)).map((result) => result.status));
  return [...statuses].join('/');
}
