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
  switch (type.kind) {
    case 'uint':
      return pack(uintBytes(type, value));
    case 'byteVector': {
      const bytes = bytesOf(value, type.length, type.length);
      return merkleize(pack(bytes), Math.ceil(type.length / CHUNK));
    }
    case 'byteList': {
      const bytes = bytesOf(value, 0, type.limit);
      return mixInLength(merkleize(pack(bytes), Math.ceil(type.limit / CHUNK)), bytes.length);
    }
    case 'bitVector': {
      const bits = bitsOf(value, type.length, type.length);
      return merkleize(pack(bits.bytes), Math.ceil(type.length / 256));
    }
    case 'bitList': {
      const bits = bitsOf(value, 0, type.limit);
      return mixInLength(merkleize(pack(bits.bytes), Math.ceil(type.limit / 256)), bits.length);
    }
    case 'list': {
      const items = itemsOf(value, 0, type.limit);
      return mixInLength(merkleize(chunksOf(type.element, items), chunkLimit(type.element, type.limit)), items.length);
    }
    case 'vector': {
      const items = itemsOf(value, type.length, type.length);
      return merkleize(chunksOf(type.element, items), chunkLimit(type.element, type.length));
    }
    case 'container':
      return containerRoot(type, value);
  }
}

/** A list's or vector's chunks: basic values packed side by side, composite ones each by its root. */
function chunksOf(element: SszType, items: readonly unknown[]): Uint8Array {
  if (element.kind === 'uint') {
    const bytes = new Uint8Array(items.length * element.byteLength);
    items.forEach((item, i) => bytes.set(atIndex(i, () => uintBytes(element, item)), i * element.byteLength));
    return pack(bytes);
  }
  const chunks = new Uint8Array(items.length * CHUNK);
  items.forEach((item, i) => chunks.set(atIndex(i, () => hashTreeRoot(element, item)), i * CHUNK));
  return chunks;
}

/** How many chunks `count` elements may take: basic ones share chunks, composite ones take one each. */
function chunkLimit(element: SszType, count: number): number {
  return element.kind === 'uint' ? Math.ceil((count * element.byteLength) / CHUNK) : count;
}

function containerRoot(type: ContainerType, value: unknown): Uint8Array {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SszError(`a container is an object of its fields, not ${kindOf(value)}`);
  const names = Object.keys(type.fields);
  const chunks = new Uint8Array(names.length * CHUNK);
  names.forEach((name, i) => {
    try {
      chunks.set(hashTreeRoot(type.fields[name]!, (value as Record<string, unknown>)[name]), i * CHUNK);
    } catch (error) {
      throw error instanceof SszError ? error.within(name) : error;
    }
  });
  return merkleize(chunks, names.length);
}

/** An unsigned integer's little-endian bytes. */
function uintBytes(type: UintType, value: unknown): Uint8Array {
  const bits = type.byteLength * 8;
  if (typeof value !== 'bigint' || value < 0n || value >> BigInt(bits) !== 0n) throw new SszError(`a uint${bits} is a bigint from 0 to 2^${bits} - 1, not ${kindOf(value)}`);
  const bytes = Buffer.alloc(type.byteLength);
  for (let offset = 0; offset < type.byteLength; offset += 8) bytes.writeBigUInt64LE(BigInt.asUintN(64, value >> BigInt(offset * 8)), offset);
  return bytes;
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

function atIndex<T>(index: number, run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw error instanceof SszError ? error.within(`[${index}]`) : error;
  }
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'bigint') return `${value}`;
  return typeof value === 'object' ? 'an object' : `the ${typeof value} ${String(value)}`;
}
