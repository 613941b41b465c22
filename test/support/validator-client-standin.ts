import bls from '@chainsafe/bls';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import {
  emptyInterchange,
  interchangeFor,
  mergeInterchanges,
  parseInterchange,
  serializeInterchange,
  watermarks,
  type Interchange,
  type InterchangeRecord,
} from '../../shared/eth/slashing-protection/index.js';

/**
 * A validator client as the standard Keymanager API describes it (ethereum/keymanager-APIs:
 * keymanager-oapi.yaml, apis/local_keystores.yaml and flows/README.md), serving GET/POST/DELETE
 * /eth/v1/keystores over real HTTP on 127.0.0.1, with a minimal EIP-3076 slashing-protection database
 * that `sign()` consults the way a client does before every signature.
 *
 * Faults imitate what real clients have done:
 * - 'bad-interchange-500': answers 500 to an import whose slashing_protection it cannot read, where the
 *   flows say 400 (Lodestar answered 500 for a missing one, ChainSafe/lodestar#4391; Prysm answered 500
 *   when the import failed, OffchainLabs/prysm#9995);
 * - 'delete-says-deleted-but-keeps': DELETE answers `deleted` but the key stays listed and signing;
 * - 'first-delete-keeps': as Lodestar 1.5.1 does, the first DELETE of a held key answers `deleted` (with
 *   its history) but the key stays listed and signing; the next DELETE of that key removes it;
 * - 'slow': every response is delayed by `delayMs`;
 * - 'down': the port refuses connections, as when the client is stopped or restarting.
 */
export type StandinFault =
  | { readonly mode: 'bad-interchange-500' }
  | { readonly mode: 'delete-says-deleted-but-keeps' }
  | { readonly mode: 'first-delete-keeps' }
  | { readonly mode: 'slow'; readonly delayMs: number }
  | { readonly mode: 'down' };

/** What a test asks the stand-in to sign for a key: a block, an attestation, or both. */
export interface SigningDuty {
  readonly blockSlot?: bigint | number;
  readonly sourceEpoch?: bigint | number;
  readonly targetEpoch?: bigint | number;
}

/** Method, path and answer of each request; bodies are not kept, they carry passwords. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

const KEYSTORES_PATH = '/eth/v1/keystores';
const PUBKEY = /^0x[0-9a-fA-F]{96}$/;
/** Mainnet's genesis_validators_root. */
const MAINNET_GENESIS_VALIDATORS_ROOT = '0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95';

class HttpAnswer extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ValidatorClientStandin {
  /** Hex of 256 random bits, as the spec asks clients to generate when given no token file. */
  readonly token = randomBytes(32).toString('hex');
  readonly genesisValidatorsRoot: string;
  readonly requests: RecordedRequest[] = [];
  /** Every slashing_protection string received with an import, read or not. */
  readonly importedInterchanges: string[] = [];

  readonly #server: Server;
  #port = 0;
  #fault: StandinFault | null = null;
  /** Under 'first-delete-keeps': keys a DELETE already answered `deleted` for while keeping them. */
  readonly #deletedOnce = new Set<string>();
  /** pubkey → derivation path of each key the client holds and signs with. */
  readonly #held = new Map<string, string>();
  /** Minimal-form history of every key ever imported; kept after DELETE, as the spec requires. */
  #protection: Interchange;
  readonly #delays = new Set<NodeJS.Timeout>();

  readonly #scheme: 'http' | 'https';

  private constructor(genesisValidatorsRoot: string, tls: { certPem: Buffer; keyPem: Buffer } | null) {
    this.genesisValidatorsRoot = genesisValidatorsRoot.toLowerCase();
    this.#protection = emptyInterchange(this.genesisValidatorsRoot);
    const answer = (request: IncomingMessage, response: ServerResponse) => void this.#answer(request, response);
    this.#server = tls ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, answer) : createServer(answer);
    this.#scheme = tls ? 'https' : 'http';
  }

  /** With `tls`, the API is served over HTTPS with that certificate, as Teku serves its own. */
  static async start(options: { genesisValidatorsRoot?: string; tls?: { certPem: Buffer; keyPem: Buffer } } = {}): Promise<ValidatorClientStandin> {
    const standin = new ValidatorClientStandin(options.genesisValidatorsRoot ?? MAINNET_GENESIS_VALIDATORS_ROOT, options.tls ?? null);
    await standin.#listen(0);
    return standin;
  }

  get baseUrl(): string {
    return `${this.#scheme}://127.0.0.1:${this.#port}`;
  }

  heldPubkeys(): string[] {
    return [...this.#held.keys()].sort();
  }

  /** Writes the token as clients write api-token.txt, for code that reads a token file. */
  async writeTokenFile(path: string): Promise<void> {
    await writeFile(path, this.token, { mode: 0o600 });
  }

  /** Sets (or with null clears) the fault mode; from 'down' the stand-in listens again on the same port. */
  async setFault(fault: StandinFault | null): Promise<void> {
    const wasDown = this.#fault?.mode === 'down';
    this.#fault = fault;
    if (fault?.mode === 'down' && !wasDown) await this.#stopListening();
    if (fault?.mode !== 'down' && wasDown) await this.#listen(this.#port);
  }

  /**
   * Signs if the key is held and the duty is not slashable against the recorded history (EIP-3076
   * minimal strategy: block slot above the highest signed; attestation source at or above the highest
   * source and target above the highest target), then records it. Returns false when it refuses.
   */
  sign(pubkey: string, duty: SigningDuty): boolean {
    const key = pubkey.toLowerCase();
    if (!this.#held.has(key)) return false;
    if ((duty.sourceEpoch === undefined) !== (duty.targetEpoch === undefined)) throw new Error('an attestation needs both sourceEpoch and targetEpoch');
    const marks = watermarks(this.#protection, key);
    const slot = duty.blockSlot === undefined ? undefined : BigInt(duty.blockSlot);
    if (slot !== undefined && marks.maxBlockSlot !== null && slot <= marks.maxBlockSlot) return false;
    const attestation = duty.sourceEpoch === undefined || duty.targetEpoch === undefined ? undefined : { sourceEpoch: BigInt(duty.sourceEpoch), targetEpoch: BigInt(duty.targetEpoch) };
    if (attestation) {
      if (attestation.sourceEpoch > attestation.targetEpoch) return false;
      if (marks.maxSourceEpoch !== null && attestation.sourceEpoch < marks.maxSourceEpoch) return false;
      if (marks.maxTargetEpoch !== null && attestation.targetEpoch <= marks.maxTargetEpoch) return false;
    }
    this.#record({ pubkey: key, signedBlocks: slot === undefined ? [] : [{ slot }], signedAttestations: attestation ? [attestation] : [] });
    return true;
  }

  async close(): Promise<void> {
    for (const delay of this.#delays) clearTimeout(delay);
    this.#delays.clear();
    if (this.#fault?.mode !== 'down') await this.#stopListening();
  }

  async #answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? '';
    const path = new URL(request.url ?? '/', 'http://standin').pathname;
    let status = 200;
    let body: unknown;
    try {
      body = await this.#route(method, path, request);
    } catch (error) {
      status = error instanceof HttpAnswer ? error.status : 500;
      body = { message: (error as Error).message };
    }
    if (this.#fault?.mode === 'slow') await this.#delay(this.#fault.delayMs);
    this.requests.push({ method, path, status });
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  async #route(method: string, path: string, request: IncomingMessage): Promise<unknown> {
    if (path !== KEYSTORES_PATH) throw new HttpAnswer(404, `no route for ${path}`);
    this.#authenticate(request.headers.authorization);
    if (method === 'GET') return this.#list();
    if (method === 'POST') return this.#import(await readJson(request));
    if (method === 'DELETE') return this.#delete(await readJson(request));
    throw new HttpAnswer(405, `${method} is not supported on ${path}`);
  }

  /** 401 "no token is found", 403 "a token is found but is invalid" (keymanager-oapi.yaml components.responses). */
  #authenticate(header: string | undefined): void {
    const match = /^Bearer (.+)$/.exec(header ?? '');
    if (!match) throw new HttpAnswer(401, 'missing bearer token');
    const given = Buffer.from(match[1]!);
    const expected = Buffer.from(this.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpAnswer(403, 'invalid bearer token');
  }

  #list(): unknown {
    return { data: this.heldPubkeys().map((pubkey) => ({ validating_pubkey: pubkey, derivation_path: this.#held.get(pubkey), readonly: false })) };
  }

  /** flows/README.md, Import: 400 for mismatched lists or unreadable slashing data, then per-key statuses. */
  async #import(body: Record<string, unknown>): Promise<unknown> {
    const { keystores, passwords } = body;
    if (!isStringArray(keystores) || !isStringArray(passwords)) throw new HttpAnswer(400, 'keystores and passwords must be arrays of strings');
    if (keystores.length !== passwords.length) throw new HttpAnswer(400, `${keystores.length} keystores but ${passwords.length} passwords`);
    const slashingProtection = body['slashing_protection'];
    if (slashingProtection !== undefined && typeof slashingProtection !== 'string') throw new HttpAnswer(400, 'slashing_protection must be a string');
    const interchange = slashingProtection === undefined ? undefined : this.#readInterchange(slashingProtection);
    const data = [];
    for (let i = 0; i < keystores.length; i++) data.push(await this.#importOne(keystores[i]!, passwords[i]!, interchange));
    return { data };
  }

  #readInterchange(text: string): Interchange {
    this.importedInterchanges.push(text);
    try {
      const interchange = parseInterchange(text);
      if (interchange.metadata.genesisValidatorsRoot !== this.genesisValidatorsRoot) {
        throw new Error(`its genesis_validators_root ${interchange.metadata.genesisValidatorsRoot} is not this chain's ${this.genesisValidatorsRoot}`);
      }
      return interchange;
    } catch (error) {
      throw new HttpAnswer(this.#fault?.mode === 'bad-interchange-500' ? 500 : 400, `cannot import slashing protection: ${(error as Error).message}`);
    }
  }

  /** Decrypt, refuse a held key, load this key's slashing protection, then start signing with it. */
  async #importOne(keystoreJson: string, password: string, interchange: Interchange | undefined): Promise<{ status: string; message?: string }> {
    let pubkey: string;
    let path: string;
    try {
      const keystore = parseKeystore(keystoreJson);
      const secret = await decryptKeystore(keystore, password);
      try {
        pubkey = '0x' + Buffer.from(bls.SecretKey.fromBytes(secret).toPublicKey().toBytes()).toString('hex');
      } finally {
        secret.fill(0);
      }
      if (keystore.pubkey !== undefined && '0x' + keystore.pubkey.replace(/^0x/, '').toLowerCase() !== pubkey) return { status: 'error', message: 'the keystore pubkey does not match its secret key' };
      path = keystore.path;
    } catch (error) {
      return { status: 'error', message: (error as Error).message };
    }
    if (this.#held.has(pubkey)) return { status: 'duplicate' };
    this.#record({ pubkey, signedBlocks: [], signedAttestations: [] });
    if (interchange) this.#protection = mergeInterchanges(this.#protection, interchangeFor(interchange, [pubkey]));
    this.#held.set(pubkey, path);
    return { status: 'imported' };
  }

  /** flows/README.md, Delete: stop signing, then export; history is kept so a repeated DELETE gets it again. */
  #delete(body: Record<string, unknown>): unknown {
    const { pubkeys } = body;
    if (!isStringArray(pubkeys) || !pubkeys.every((pubkey) => PUBKEY.test(pubkey))) throw new HttpAnswer(400, 'pubkeys must be an array of 0x-prefixed 48-byte keys');
    const known = new Set(this.#protection.data.map((record) => record.pubkey));
    const removedNow = new Set<string>();
    const data = pubkeys.map((given) => {
      const pubkey = given.toLowerCase();
      if (this.#held.has(pubkey) && !removedNow.has(pubkey)) {
        removedNow.add(pubkey);
        return { status: 'deleted' };
      }
      return { status: known.has(pubkey) ? 'not_active' : 'not_found' };
    });
    for (const pubkey of removedNow) {
      if (this.#fault?.mode === 'delete-says-deleted-but-keeps') continue;
      if (this.#fault?.mode === 'first-delete-keeps' && !this.#deletedOnce.has(pubkey)) {
        this.#deletedOnce.add(pubkey);
        continue;
      }
      this.#held.delete(pubkey);
      this.#deletedOnce.delete(pubkey);
    }
    const exported = pubkeys.filter((_, i) => data[i]!.status !== 'not_found');
    return { data, slashing_protection: serializeInterchange(interchangeFor(this.#protection, exported)) };
  }

  #record(record: InterchangeRecord): void {
    this.#protection = mergeInterchanges(this.#protection, { metadata: this.#protection.metadata, data: [record] });
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        resolve();
      }, ms);
      this.#delays.add(timer);
    });
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #stopListening(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpAnswer(400, 'the request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpAnswer(400, 'the request body must be a JSON object');
  return value as Record<string, unknown>;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
