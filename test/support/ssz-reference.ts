import {
  BitArray,
  BitListType,
  BitVectorType,
  ByteListType,
  ByteVectorType,
  ContainerType,
  ListBasicType,
  ListCompositeType,
  UintBigintType,
  VectorBasicType,
  VectorCompositeType,
  type Type,
} from '@chainsafe/ssz';
import type { Bits, SszType } from '../../agent/signer/ssz/index.js';
import { intBetween, pick } from './prng.js';

/**
 * The signer's SSZ types (agent/signer/ssz) mirrored in @chainsafe/ssz, the reference its roots are
 * checked against in tests and benchmarks, and a seeded generator of values for them.
 */
export function referenceType(type: SszType): Type<unknown> {
  let reference = built.get(type);
  if (!reference) {
    reference = build(type);
    built.set(type, reference);
  }
  return reference;
}

const built = new WeakMap<SszType, Type<unknown>>();

function build(type: SszType): Type<unknown> {
  switch (type.kind) {
    case 'uint':
      return new UintBigintType(type.byteLength as 8 | 32) as Type<unknown>;
    case 'byteVector':
      return new ByteVectorType(type.length) as Type<unknown>;
    case 'byteList':
      return new ByteListType(type.limit) as Type<unknown>;
    case 'bitVector':
      return new BitVectorType(type.length) as Type<unknown>;
    case 'bitList':
      return new BitListType(type.limit) as Type<unknown>;
    case 'list': {
      const element = referenceType(type.element);
      return (type.element.kind === 'uint' ? new ListBasicType(element as UintBigintType, type.limit) : new ListCompositeType(element as never, type.limit)) as Type<unknown>;
    }
    case 'vector': {
      const element = referenceType(type.element);
      return (type.element.kind === 'uint' ? new VectorBasicType(element as UintBigintType, type.length) : new VectorCompositeType(element as never, type.length)) as Type<unknown>;
    }
    case 'container':
      return new ContainerType(Object.fromEntries(Object.entries(type.fields).map(([name, field]) => [name, referenceType(field)]))) as Type<unknown>;
  }
}

/** A value of the signer's SSZ as @chainsafe/ssz takes it: bits as BitArray, the rest as it is. */
export function referenceValue(type: SszType, value: unknown): unknown {
  switch (type.kind) {
    case 'bitVector':
    case 'bitList': {
      const bits = value as Bits;
      return new BitArray(bits.bytes, bits.length);
    }
    case 'list':
    case 'vector':
      return (value as unknown[]).map((item) => referenceValue(type.element, item));
    case 'container':
      return Object.fromEntries(Object.entries(type.fields).map(([name, field]) => [name, referenceValue(field, (value as Record<string, unknown>)[name])]));
    default:
      return value;
  }
}

/** How big generated lists get where the type allows more: blocks stay small enough to hash many. */
export interface GeneratorCaps {
  readonly listItems: number;
  readonly bytes: number;
}

/**
 * A random value of `type`, often at the edges: empty lists, lists at their limit when it is small,
 * bitlists of 0, 255, 256 and 257 bits or at their limit, uint64 and uint256 maxima, 2^53 + 1.
 */
export function randomValue(type: SszType, random: () => number, caps: GeneratorCaps = { listItems: 4, bytes: 300 }): unknown {
  switch (type.kind) {
    case 'uint': {
      const bits = BigInt(type.byteLength * 8);
      const max = (1n << bits) - 1n;
      return pick(random, [0n, 1n, max, max - 1n, 2n ** 53n + 1n, randomBigint(random, type.byteLength), BigInt(intBetween(random, 0, 1000))]);
    }
    case 'byteVector':
      return randomBytes(random, type.length);
    case 'byteList':
      return randomBytes(random, lengthUpTo(random, type.limit, caps.bytes, []));
    case 'bitVector':
      return randomBits(random, type.length);
    case 'bitList':
      return randomBits(random, lengthUpTo(random, type.limit, 2048, [255, 256, 257]));
    case 'list':
      return Array.from({ length: lengthUpTo(random, type.limit, caps.listItems, []) }, () => randomValue(type.element, random, caps));
    case 'vector':
      return Array.from({ length: type.length }, () => randomValue(type.element, random, caps));
    case 'container':
      return Object.fromEntries(Object.entries(type.fields).map(([name, field]) => [name, randomValue(field, random, caps)]));
  }
}

/** 0, 1, the limit (when within `cap`), one of `special` that fits, or anything up to min(limit, cap). */
function lengthUpTo(random: () => number, limit: number, cap: number, special: readonly number[]): number {
  const choices = [0, 1, intBetween(random, 0, Math.min(limit, cap)), ...special.filter((n) => n <= limit)];
  if (limit <= cap) choices.push(limit, limit);
  return Math.min(pick(random, choices), limit);
}

function randomBytes(random: () => number, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => intBetween(random, 0, 255));
}

/** `length` random bits, sometimes all set; the bits past `length` in the last byte are zero. */
function randomBits(random: () => number, length: number): Bits {
  const allSet = random() < 0.25;
  const bytes = Uint8Array.from({ length: Math.ceil(length / 8) }, () => (allSet ? 0xff : intBetween(random, 0, 255)));
  if (length % 8 !== 0) bytes[bytes.length - 1]! &= (1 << (length % 8)) - 1;
  return { bytes, length };
}

function randomBigint(random: () => number, byteLength: number): bigint {
  let value = 0n;
  for (let i = 0; i < byteLength; i += 1) value = (value << 8n) | BigInt(intBetween(random, 0, 255));
  return value;
}
