import { SszError } from './errors.js';
import type { BitListType, Bits, BitVectorType } from './types.js';

/** How many serialized bytes a value of the type may take: a bitlist's length bit needs one more bit. */
export function serializedBitsSize(type: BitListType | BitVectorType): { min: number; max: number } {
  if (type.kind === 'bitList') return { min: 1, max: Math.floor(type.limit / 8) + 1 };
  const bytes = Math.ceil(type.length / 8);
  return { min: bytes, max: bytes };
}

/** A serialized bitlist: its bits, then a 1 bit marking the length, then zero bits to the byte's end. */
export function bitListFromBytes(type: BitListType, serialized: Uint8Array): Bits {
  const last = serialized[serialized.length - 1];
  if (last === undefined || last === 0) throw new SszError('a bitlist ends with a byte holding its length bit; this one ends with a zero byte or is empty');
  const markerAt = 31 - Math.clz32(last);
  const length = (serialized.length - 1) * 8 + markerAt;
  if (length > type.limit) throw new SszError(`it holds ${length} bits, over the limit of ${type.limit}`);
  const bytes = serialized.slice(0, Math.ceil(length / 8));
  // Clear the length bit when it shares the last byte with list bits.
  if (markerAt > 0) bytes[bytes.length - 1] = last ^ (1 << markerAt);
  return { bytes, length };
}

/** A serialized bitvector: exactly ceil(length / 8) bytes, the bits past `length` zero. */
export function bitVectorFromBytes(type: BitVectorType, serialized: Uint8Array): Bits {
  const bits = { bytes: serialized.slice(), length: type.length };
  checkBits(bits, type.length, type.length);
  return bits;
}

/** Throws unless `bits` is well formed and holds between `min` and `max` bits. */
export function checkBits(bits: Bits, min: number, max: number): void {
  if (bits.length < min || bits.length > max) throw new SszError(`it holds ${bits.length} bits; ${min === max ? `exactly ${min} are required` : `at most ${max} are allowed`}`);
  if (bits.bytes.length !== Math.ceil(bits.length / 8)) throw new SszError(`${bits.length} bits take ${Math.ceil(bits.length / 8)} bytes, not ${bits.bytes.length}`);
  const used = bits.length % 8;
  if (used !== 0 && bits.bytes[bits.bytes.length - 1]! >> used !== 0) throw new SszError(`bits past the ${bits.length} it holds are set`);
}
