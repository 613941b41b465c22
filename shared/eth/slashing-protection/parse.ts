import { SlashingProtectionError } from './errors.js';
import { INTERCHANGE_FORMAT_VERSION, type Interchange, type InterchangeRecord, type SignedAttestation, type SignedBlock } from './interchange.js';

const MAX_UINT64 = 2n ** 64n - 1n;
const DECIMAL = /^[0-9]+$/;

/**
 * Parses an EIP-3076 v5 interchange, given as JSON text or as an already-parsed value, and checks it
 * against the EIP's JSON schema plus what the schema leaves to prose: hex lengths (pubkey 48 bytes,
 * roots 32 bytes), slots and epochs as uint64 decimal strings, source_epoch <= target_epoch.
 * Hex is normalised to lowercase so that keys compare by value. The error names the offending field.
 */
export function parseInterchange(json: string | unknown): Interchange {
  const value = typeof json === 'string' ? parseJson(json) : json;
  const root = objectAt(value, 'the document');
  const metadata = objectAt(root['metadata'], 'metadata');
  const version = metadata['interchange_format_version'];
  if (version !== INTERCHANGE_FORMAT_VERSION) {
    throw formatError(`metadata.interchange_format_version is ${quote(version)}; only "${INTERCHANGE_FORMAT_VERSION}" (a string) is supported`);
  }
  const genesisValidatorsRoot = hexAt(metadata['genesis_validators_root'], 32, 'metadata.genesis_validators_root');
  const data = arrayAt(root['data'], 'data');
  return {
    metadata: { interchangeFormatVersion: INTERCHANGE_FORMAT_VERSION, genesisValidatorsRoot },
    data: data.map((entry, i) => parseRecord(entry, `data[${i}]`)),
  };
}

function parseRecord(value: unknown, at: string): InterchangeRecord {
  const record = objectAt(value, at);
  return {
    pubkey: hexAt(record['pubkey'], 48, `${at}.pubkey`),
    signedBlocks: arrayAt(record['signed_blocks'], `${at}.signed_blocks`).map((block, i) => parseBlock(block, `${at}.signed_blocks[${i}]`)),
    signedAttestations: arrayAt(record['signed_attestations'], `${at}.signed_attestations`).map((attestation, i) =>
      parseAttestation(attestation, `${at}.signed_attestations[${i}]`),
    ),
  };
}

function parseBlock(value: unknown, at: string): SignedBlock {
  const block = objectAt(value, at);
  return { slot: uint64At(block['slot'], `${at}.slot`), ...signingRootAt(block['signing_root'], `${at}.signing_root`) };
}

function parseAttestation(value: unknown, at: string): SignedAttestation {
  const attestation = objectAt(value, at);
  const sourceEpoch = uint64At(attestation['source_epoch'], `${at}.source_epoch`);
  const targetEpoch = uint64At(attestation['target_epoch'], `${at}.target_epoch`);
  // An attestation's source checkpoint is never after its target; such a record cannot describe a real signature.
  if (sourceEpoch > targetEpoch) throw formatError(`${at}.source_epoch ${sourceEpoch} is greater than its target_epoch ${targetEpoch}`);
  return { sourceEpoch, targetEpoch, ...signingRootAt(attestation['signing_root'], `${at}.signing_root`) };
}

function signingRootAt(value: unknown, at: string): { signingRoot?: string } {
  return value === undefined ? {} : { signingRoot: hexAt(value, 32, at) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw formatError(`it is not valid JSON (${(error as Error).message})`);
  }
}

function objectAt(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw formatError(`${at} must be a JSON object, not ${describe(value)}`);
  return value as Record<string, unknown>;
}

function arrayAt(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw formatError(`${at} must be an array, not ${describe(value)}`);
  return value;
}

function hexAt(value: unknown, bytes: number, at: string): string {
  if (typeof value !== 'string' || !new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`).test(value)) {
    throw formatError(`${at} must be 0x followed by ${bytes} bytes of hex, not ${quote(value)}`);
  }
  return value.toLowerCase();
}

function uint64At(value: unknown, at: string): bigint {
  if (typeof value !== 'string' || !DECIMAL.test(value)) throw formatError(`${at} must be a decimal string, not ${quote(value)}`);
  const parsed = BigInt(value);
  if (parsed > MAX_UINT64) throw formatError(`${at} ${value} does not fit in a uint64`);
  return parsed;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function quote(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function formatError(why: string): SlashingProtectionError {
  return new SlashingProtectionError('INTERCHANGE_FORMAT', `not an EIP-3076 slashing-protection interchange (format version 5): ${why}. Export it again from the validator client.`);
}
