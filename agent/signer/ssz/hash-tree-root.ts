import { checkBits } from './bits.js';
import { SszError } from './errors.js';
import { CHUNK, merkleize, mixInLength, pack } from './merkleize.js';
import type { Bits, ContainerType, SszType, UintType } from './types.js';

/**
 * hash_tree_root(value) of an SSZ `type` (consensus-specs ssz/simple-serialize.md). The value is checked
 * against the type on the way (lengths, limits, integer ranges); one that does not fit throws SszError
 * naming where in the value and what was wrong.
 */
export function hashTreeRoot(type: SszType, value: unknown): Uint8Array {
  const root = Buffer.alloc(CHUNK);
  writeRoot(type, value, root, 0);
  return root;
}

/**
 * Writes the root of `value` into the zeroed chunk at `out[offset]`. Integers and byte vectors of one chunk
 * are their own root, written in place: that spares a copy per field on the attestation path.
 */
function writeRoot(type: SszType, value: unknown, out: Buffer, offset: number): void {
  switch (type.kind) {
    case 'uint':
      return writeUint(type, value, out, offset);
    case 'byteVector': {
      const bytes = bytesOf(value, type.length, type.length);
      if (type.length <= CHUNK) out.set(bytes, offset);
      else out.set(merkleize(bytes.length % CHUNK === 0 ? bytes : pack(bytes), Math.ceil(type.length / CHUNK)), offset);
      return;
    }
    case 'byteList': {
      const bytes = bytesOf(value, 0, type.limit);
      return out.set(mixInLength(merkleize(pack(bytes), Math.ceil(type.limit / CHUNK)), bytes.length), offset);
    }
    case 'bitVector': {
      const bits = bitsOf(value, type.length, type.length);
      return out.set(merkleize(pack(bits.bytes), Math.ceil(type.length / 256)), offset);
    }
    case 'bitList': {
      const bits = bitsOf(value, 0, type.limit);
      return out.set(mixInLength(merkleize(pack(bits.bytes), Math.ceil(type.limit / 256)), bits.length), offset);
    }
    case 'list': {
      const items = itemsOf(value, 0, type.limit);
      return out.set(mixInLength(merkleize(chunksOf(type.element, items), chunkLimit(type.element, type.limit)), items.length), offset);
    }
    case 'vector': {
      const items = itemsOf(value, type.length, type.length);
      return out.set(merkleize(chunksOf(type.element, items), chunkLimit(type.element, type.length)), offset);
    }
    case 'container':
      return out.set(containerRoot(type, value), offset);
  }
}

/** A list's or vector's chunks: basic values packed side by side, composite ones each by its root. */
function chunksOf(element: SszType, items: readonly unknown[]): Uint8Array {
  const composite = element.kind !== 'uint';
  const size = composite ? CHUNK : element.byteLength;
  const chunks = Buffer.alloc(Math.ceil((items.length * size) / CHUNK) * CHUNK);
  let i = 0;
  try {
    for (; i < items.length; i += 1) {
      if (composite) writeRoot(element, items[i], chunks, i * CHUNK);
      else writeUint(element, items[i], chunks, i * size);
    }
  } catch (error) {
    throw error instanceof SszError ? error.within(`[${i}]`) : error;
  }
  return chunks;
}

/** How many chunks `count` elements may take: basic ones share chunks, composite ones take one each. */
function chunkLimit(element: SszType, count: number): number {
  return element.kind === 'uint' ? Math.ceil((count * element.byteLength) / CHUNK) : count;
}

function containerRoot(type: ContainerType, value: unknown): Uint8Array {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SszError(`a container is an object of its fields, not ${kindOf(value)}`);
  const names = Object.keys(type.fields);
  const chunks = Buffer.alloc(names.length * CHUNK);
  let i = 0;
  try {
    for (; i < names.length; i += 1) writeRoot(type.fields[names[i]!]!, (value as Record<string, unknown>)[names[i]!], chunks, i * CHUNK);
  } catch (error) {
    throw error instanceof SszError ? error.within(names[i]!) : error;
  }
  return merkleize(chunks, names.length);
}

/** An unsigned integer's little-endian bytes, at `out[offset]`. */
function writeUint(type: UintType, value: unknown, out: Buffer, offset: number): void {
  const bits = type.byteLength * 8;
  if (typeof value !== 'bigint' || value < 0n || value >> BigInt(bits) !== 0n) throw new SszError(`a uint${bits} is a bigint from 0 to 2^${bits} - 1, not ${kindOf(value)}`);
  if (type.byteLength === 8) out.writeBigUInt64LE(value, offset);
  else for (let at = 0; at < type.byteLength; at += 8) out.writeBigUInt64LE(BigInt.asUintN(64, value >> BigInt(at * 8)), offset + at);
}

function bytesOf(value: unknown, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new SszError(`bytes are a Uint8Array, not ${kindOf(value)}`);
  if (value.length < min || value.length > max) throw new SszError(`it has ${value.length} bytes; ${min === max ? `exactly ${min} are required` : `at most ${max} are allowed`}`);
  return value;
}

function bitsOf(value: unknown, min: number, max: number): Bits {
  const bits = value as Bits | null;
  if (typeof bits !== 'object' || bits === null || !(bits.bytes instanceof Uint8Array) || !Number.isInteger(bits.length)) {
    throw new SszError(`bits are { bytes: Uint8Array, length: number }, not ${kindOf(value)}`);
  }
  checkBits(bits, min, max);
  return bits;
}

function itemsOf(value: unknown, min: number, max: number): readonly unknown[] {
  if (!Array.isArray(value)) throw new SszError(`a list or vector is an array, not ${kindOf(value)}`);
  if (value.length < min || value.length > max) throw new SszError(`it has ${value.length} elements; ${min === max ? `exactly ${min} are required` : `at most ${max} are allowed`}`);
  return value;
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'bigint') return `${value}`;
  return typeof value === 'object' ? 'an object' : `the ${typeof value} ${String(value)}`;
}
