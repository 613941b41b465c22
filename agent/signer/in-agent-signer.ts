import bls from '@chainsafe/bls';
import type { SecretKey } from '@chainsafe/bls/types';
import type { Clock } from '../../shared/clock/clock.js';
import { ConfigError } from '../../shared/errors/keylease-error.js';
import { parseInterchange, serializeInterchange, watermarks, type Watermarks } from '../../shared/eth/slashing-protection/index.js';
import { higherWatermarks, NO_WATERMARKS } from '../../shared/eth/slashing-protection/watermarks.js';
import type { Logger } from '../../shared/log/logger.js';
import { SignerError } from './errors.js';
import { PRESET_NAMES, type PresetName } from '../../shared/eth/consensus-preset.js';
import { checkProtection } from './protection.js';
import { equalBytes, hex, parseSigningRequest, type NetworkContext, type SigningRequest } from './signing-request.js';
import { typesFor } from './ssz-types.js';
import { interchangeOf, WatermarkStore } from './watermark-store.js';

export interface InAgentSignerOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where watermarks are kept across agent restarts: the pod's in-memory volume. */
  readonly stateDir: string;
  readonly genesisValidatorsRoot: string;
  readonly genesisForkVersion: string;
  /** The network's consensus preset; it sizes some containers and sets SLOTS_PER_EPOCH. Default mainnet. */
  readonly preset?: PresetName;
}

export interface KeyToSignWith {
  /** 0x + 96 hex digits. */
  readonly pubKey: string;
  /** 32 bytes; copied into the BLS library, so the caller may zero it once install() returns. */
  readonly secretKey: Uint8Array;
  /** EIP-3076 interchange from the pool for this key; '' when there is none. */
  readonly slashingProtection: string;
}

interface HeldKey {
  readonly pubKey: string;
  readonly secretKey: SecretKey;
}

const PUBKEY = /^(0x)?[0-9a-fA-F]{96}$/;

/**
 * The validator client's remote signer, inside the agent: keys never leave it, every signing root is
 * computed here from the message, EIP-3076 watermarks are enforced and persisted before a signature is
 * returned, and nothing is signed at or after the fence deadline, so a key stops signing when the agent
 * dies or loses its lease, whatever the validator client does.
 */
export class InAgentSigner {
  private held = new Map<string, HeldKey>();
  /** Watermarks of every key this state directory has seen, held or not. */
  private readonly marks = new Map<string, Watermarks>();
  private deadlineMs: number | null = null;
  private opening: Promise<WatermarkStore> | null = null;
  /** Set once the state directory is open, which install() awaits: any held key implies it. */
  private store: WatermarkStore | null = null;
  private readonly network: NetworkContext;
  private readonly genesisValidatorsRoot: string;

  constructor(private readonly options: InAgentSignerOptions) {
    this.genesisValidatorsRoot = bytesOption(options.genesisValidatorsRoot, 32, 'genesisValidatorsRoot');
    const preset = options.preset ?? 'mainnet';
    this.network = {
      genesisValidatorsRoot: Buffer.from(this.genesisValidatorsRoot.slice(2), 'hex'),
      genesisForkVersion: Buffer.from(bytesOption(options.genesisForkVersion, 4, 'genesisForkVersion').slice(2), 'hex'),
      types: typesFor(preset),
    };
  }

  /**
   * Holds exactly these keys from now on (keys held before and not listed are dropped). Each key's
   * watermarks become the highest of the pool's interchange, the state directory and what this signer
   * already knew. Every key is checked before any is taken: a bad one changes nothing.
   */
  async install(keys: ReadonlyArray<KeyToSignWith>): Promise<void> {
    await this.openStore();
    const prepared = new Map<string, { key: HeldKey; fromPool: Watermarks }>();
    for (const key of keys) {
      const pubKey = normalizePubKey(key.pubKey, 'a key to install');
      if (prepared.has(pubKey)) throw new SignerError('SIGNER_KEY', `the key ${pubKey} was given twice`);
      const secretKey = secretKeyFor(pubKey, key.secretKey);
      // A key held already keeps its entry, so a request being signed with it is not taken for a removal.
      prepared.set(pubKey, { key: this.held.get(pubKey) ?? { pubKey, secretKey }, fromPool: this.poolWatermarks(pubKey, key.slashingProtection) });
    }
    this.held = new Map([...prepared].map(([pubKey, { key }]) => [pubKey, key]));
    for (const [pubKey, { fromPool }] of prepared) this.marks.set(pubKey, higherWatermarks(this.marks.get(pubKey) ?? NO_WATERMARKS, fromPool));
  }

  /** Throws SIGNER_KEY unless `network` is the one this signer signs for (e.g. the network a grant names). */
  checkNetwork(network: { readonly genesisValidatorsRoot: string; readonly genesisForkVersion: string }): void {
    const ours = { genesisValidatorsRoot: this.genesisValidatorsRoot, genesisForkVersion: hex(this.network.genesisForkVersion) };
    for (const field of ['genesisValidatorsRoot', 'genesisForkVersion'] as const) {
      if (network[field].toLowerCase() !== ours[field]) {
        throw new SignerError('SIGNER_KEY', `the keys are for the network with ${field} ${network[field]}, but this signer signs for ${ours[field]}: start the agent for the pool's network`);
      }
    }
  }

  /** Nothing is signed at or after this clock.monotonicMs() value; null signs nothing (the initial state). */
  setDeadline(deadlineMonotonicMs: number | null): void {
    this.deadlineMs = deadlineMonotonicMs;
  }

  /**
   * Drops every key (and the deadline, so nothing signs until the next lease) and returns the
   * watermarks of every key it held, including any signature still being persisted; null if it held
   * none. Call setDeadline again after the next install().
   */
  async removeAll(): Promise<{ slashingProtection: string | null; pubKeys: readonly string[] }> {
    this.deadlineMs = null;
    const pubKeys = [...this.held.keys()];
    this.held = new Map();
    if (this.store) {
      try {
        await this.store.flush();
      } catch (error) {
        // The watermarks returned come from memory and cover every signature, persisted or not.
        this.options.logger.warn('could not finish persisting watermarks while removing keys', { error: (error as Error).message });
      }
    }
    return { slashingProtection: pubKeys.length === 0 ? null : serializeInterchange(interchangeOf(this.genesisValidatorsRoot, this.marks, pubKeys)), pubKeys };
  }

  /** EIP-3076 interchange (minimal form) of the held keys' watermarks, for renewals; null when none is held. */
  currentProtection(): string | null {
    return this.held.size === 0 ? null : serializeInterchange(interchangeOf(this.genesisValidatorsRoot, this.marks, this.held.keys()));
  }

  heldPubKeys(): readonly string[] {
    return [...this.held.keys()];
  }

  /**
   * Signs one request of the remote signing API for `identifier` (the public key in the URL) and
   * returns the 96-byte signature. Refusals throw SignerError: SIGNER_UNKNOWN_KEY, SIGNER_REQUEST,
   * SIGNER_ROOT_MISMATCH, SIGNER_SLASHABLE and SIGNER_FENCED change nothing, except a fence that
   * comes while the watermark is being persisted (the raise stays); SIGNER_STATE means the watermark
   * could not be persisted, and the signature is withheld.
   */
  async sign(identifier: string, body: unknown): Promise<Uint8Array> {
    // Everything up to the first await runs as one step, so two requests for the same slot cannot
    // both pass the protection check.
    const pubKey = normalizePubKey(identifier, 'the public key in the request path', 'SIGNER_UNKNOWN_KEY');
    const key = this.held.get(pubKey);
    if (!key) throw new SignerError('SIGNER_UNKNOWN_KEY', `this signer holds no key ${pubKey}`);
    const request = this.parse(body);
    this.checkClaimedRoot(request, body);
    let raised: Watermarks | null = null;
    if (request.slashable) {
      const verdict = checkProtection(this.marks.get(pubKey) ?? NO_WATERMARKS, request.slashable);
      if (!verdict.allowed) throw new SignerError('SIGNER_SLASHABLE', `refused ${request.type} for ${pubKey} by slashing protection: ${verdict.reason}`);
      raised = verdict.raised;
    }
    this.checkDeadline(request.type);
    if (raised) this.marks.set(pubKey, raised);
    // The write runs on the thread pool while this thread signs; the signature waits for it.
    const persisted = request.slashable ? this.store!.append(pubKey, request.slashable) : null;
    persisted?.catch(() => {}); // awaited below; this only keeps a failure during signing from going unhandled
    const signature = key.secretKey.sign(request.signingRoot).toBytes();
    if (persisted) await persisted;
    // Persisting takes time: the signature leaves only if the key is still held and the deadline not
    // reached. A refusal here keeps the raised watermark, which can only make the signer stricter.
    if (this.held.get(pubKey) !== key) throw new SignerError('SIGNER_FENCED', `the key ${pubKey} was taken away while ${request.type} was being signed`);
    this.checkDeadline(request.type);
    return signature;
  }

  /** Closes the state log; the signer must not be used afterwards. */
  async close(): Promise<void> {
    this.deadlineMs = null;
    this.held = new Map();
    if (this.store) await this.store.close();
  }

  private checkDeadline(type: string): void {
    const deadline = this.deadlineMs;
    if (deadline === null) throw new SignerError('SIGNER_FENCED', `refused ${type}: the agent holds no live lease, so it signs nothing`);
    const now = this.options.clock.monotonicMs();
    if (now >= deadline) throw new SignerError('SIGNER_FENCED', `refused ${type}: the agent's fence deadline passed ${Math.round(now - deadline)} ms ago; it signs again only after a renewal`);
  }

  private parse(body: unknown): SigningRequest {
    try {
      return parseSigningRequest(body, this.network);
    } catch (error) {
      if (!(error instanceof SignerError)) throw error;
      throw new SignerError(error.code, error.message + this.presetHint(body, () => true));
    }
  }

  private checkClaimedRoot(request: SigningRequest, body: unknown): void {
    const claimed = request.claimedRoot;
    if (!claimed || equalBytes(claimed, request.signingRoot)) return;
    const hint = this.presetHint(body, (other) => equalBytes(other.signingRoot, claimed));
    throw new SignerError('SIGNER_ROOT_MISMATCH', `the request's signingRoot ${hex(claimed)} is not the root of its ${request.type} message (${hex(request.signingRoot)})${hint}`);
  }

  /** On a refusal only: whether the request is right under another preset, a likely misconfiguration worth naming. */
  private presetHint(body: unknown, fits: (request: SigningRequest) => boolean): string {
    const ours = this.network.types.preset.name;
    for (const preset of PRESET_NAMES) {
      if (preset === ours) continue;
      try {
        if (fits(parseSigningRequest(body, { ...this.network, types: typesFor(preset) }))) {
          return `; it fits the ${preset} preset, but the agent is set up for ${ours}: give it the network's preset`;
        }
      } catch {
        // Not valid under that preset either.
      }
    }
    return '';
  }

  private openStore(): Promise<WatermarkStore> {
    if (!this.opening) {
      this.opening = WatermarkStore.open({
        dir: this.options.stateDir,
        genesisValidatorsRoot: this.genesisValidatorsRoot,
        current: () => this.marks,
        logger: this.options.logger,
      }).then(({ store, persisted }) => {
        for (const [pubKey, marks] of persisted) this.marks.set(pubKey, higherWatermarks(this.marks.get(pubKey) ?? NO_WATERMARKS, marks));
        this.store = store;
        return store;
      });
      // A failed open is retried by the next install().
      this.opening.catch(() => (this.opening = null));
    }
    return this.opening;
  }

  private poolWatermarks(pubKey: string, slashingProtection: string): Watermarks {
    if (slashingProtection === '') return NO_WATERMARKS;
    let interchange;
    try {
      interchange = parseInterchange(slashingProtection);
    } catch (error) {
      throw new SignerError('SIGNER_KEY', `the slashing protection given for ${pubKey} is unusable: ${(error as Error).message}`, { cause: error });
    }
    if (interchange.metadata.genesisValidatorsRoot !== this.genesisValidatorsRoot) {
      throw new SignerError(
        'SIGNER_KEY',
        `the slashing protection given for ${pubKey} is for the chain with genesis_validators_root ${interchange.metadata.genesisValidatorsRoot}, not this network's ${this.genesisValidatorsRoot}`,
      );
    }
    return watermarks(interchange, pubKey);
  }
}

function secretKeyFor(pubKey: string, bytes: Uint8Array): SecretKey {
  let secretKey: SecretKey;
  try {
    secretKey = bls.SecretKey.fromBytes(bytes);
  } catch {
    throw new SignerError('SIGNER_KEY', `the secret key given for ${pubKey} is not a valid BLS secret key`);
  }
  if (hex(secretKey.toPublicKey().toBytes()) !== pubKey) throw new SignerError('SIGNER_KEY', `the secret key given for ${pubKey} belongs to another public key`);
  return secretKey;
}

function normalizePubKey(value: string, what: string, code: 'SIGNER_KEY' | 'SIGNER_UNKNOWN_KEY' = 'SIGNER_KEY'): string {
  if (!PUBKEY.test(value)) throw new SignerError(code, `${what} must be a BLS public key (48 bytes of hex), not ${JSON.stringify(value.slice(0, 100))}`);
  return (value.startsWith('0x') ? value : '0x' + value).toLowerCase();
}

function bytesOption(value: string, bytes: number, name: string): string {
  if (!new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`).test(value)) throw new ConfigError(`the signer's ${name} must be 0x followed by ${bytes} bytes of hex, not ${JSON.stringify(value)}`);
  return value.toLowerCase();
}
