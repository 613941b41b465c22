import { SignerError } from './errors.js';
import { bitListFromBytes, bitVectorFromBytes, serializedBitsSize, SszError, type SszType } from './ssz/index.js';

/**
 * JSON of the remote signing API (the Beacon API's encoding: uint64 as decimal strings, bytes as 0x hex,
 * bitlists and bitvectors as the hex of their SSZ bytes) into SSZ values of `type`, checking every field
 * against the type. `at` is the field's path in the request, e.g. `attestation.source.epoch`; every
 * error names it. Fields the type does not know are ignored, as JSON APIs do.
 */
export function fromWire(type: SszType, json: unknown, at: string): unknown {
  switch (type.kind) {
    case 'container': {
      const object = objectAt(json, at);
      const value: Record<string, unknown> = {};
      for (const [name, fieldType] of Object.entries(type.fields)) value[name] = fromWire(fieldType, object[name], `${at}.${name}`);
      return value;
    }
    case 'uint':
      return uintAt(json, type.byteLength, at);
    case 'byteVector':
      return hexAt(json, at, type.length, type.length);
    case 'byteList':
      return hexAt(json, at, 0, type.limit);
    case 'bitList':
    case 'bitVector': {
      const size = serializedBitsSize(type);
      const bytes = hexAt(json, at, size.min, size.max);
      try {
        return type.kind === 'bitList' ? bitListFromBytes(type, bytes) : bitVectorFromBytes(type, bytes);
      } catch (error) {
        if (!(error instanceof SszError)) throw error;
        throw requestError(`${at} is not a valid SSZ ${type.kind === 'bitList' ? `bitlist of at most ${type.limit}` : `bitvector of ${type.length}`} bits (${error.reason})`);
      }
    }
    case 'list': {
      const items = arrayAt(json, at);
      if (items.length > type.limit) throw requestError(`${at} has ${items.length} entries; at most ${type.limit} are allowed`);
      return items.map((item, i) => fromWire(type.element, item, `${at}[${i}]`));
    }
    case 'vector': {
      const items = arrayAt(json, at);
      if (items.length !== type.length) throw requestError(`${at} has ${items.length} entries; exactly ${type.length} are required`);
      return items.map((item, i) => fromWire(type.element, item, `${at}[${i}]`));
    }
  }
}

const DECIMAL = /^[0-9]+$/;
const HEX = /^0x[0-9a-fA-F]*$/;

/** An unsigned integer of `bytes` bytes, as a decimal string. */
export function uintAt(json: unknown, bytes: number, at: string): bigint {
  // 78 digits hold any uint256; longer strings are refused before BigInt does any work on them.
  if (typeof json !== 'string' || !DECIMAL.test(json) || json.length > 78) throw requestError(`${at} must be a decimal string (uint${bytes * 8}), not ${describe(json)}`);
  const value = BigInt(json);
  if (value >= 1n << BigInt(bytes * 8)) throw requestError(`${at} ${json} does not fit in a uint${bytes * 8}`);
  return value;
}

/** 0x-prefixed hex of between `min` and `max` bytes. */
export function hexAt(json: unknown, at: string, min: number, max: number): Uint8Array {
  if (typeof json !== 'string' || !HEX.test(json) || json.length % 2 !== 0) throw requestError(`${at} must be 0x-prefixed hex, not ${describe(json)}`);
  const bytes = (json.length - 2) / 2;
  if (bytes < min || bytes > max) {
    throw requestError(`${at} has ${bytes} bytes; ${min === max ? `exactly ${min}` : `between ${min} and ${max}`} are required`);
  }
  return new Uint8Array(Buffer.from(json.slice(2), 'hex'));
}

export function objectAt(json: unknown, at: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw requestError(`${at} must be a JSON object, not ${describe(json)}`);
  return json as Record<string, unknown>;
}

export function stringAt(json: unknown, at: string): string {
  if (typeof json !== 'string') throw requestError(`${at} must be a string, not ${describe(json)}`);
  return json;
}

function arrayAt(json: unknown, at: string): unknown[] {
  if (!Array.isArray(json)) throw requestError(`${at} must be an array, not ${describe(json)}`);
  return json;
}

/** What a value is, for an error message: its kind, and short strings quoted (requests hold no secrets). */
export function describe(json: unknown): string {
  if (json === undefined) return 'missing';
  if (json === null) return 'null';
  if (Array.isArray(json)) return 'an array';
  if (typeof json === 'string') return json.length > 40 ? `a ${json.length}-character string` : JSON.stringify(json);
  return typeof json === 'object' ? 'an object' : `the ${typeof json} ${String(json)}`;
}

export function requestError(message: string): SignerError {
  return new SignerError('SIGNER_REQUEST', message);
}
