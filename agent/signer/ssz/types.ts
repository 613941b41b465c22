/**
 * SSZ types (consensus-specs ssz/simple-serialize.md), as plain descriptions that hash-tree-root.ts walks.
 * Only what the signer hashes: unsigned integers, byte vectors and lists, bitvectors and bitlists, lists and
 * vectors, containers. Values: uint as bigint, bytes as Uint8Array, bits as Bits, lists and vectors as
 * arrays, containers as objects keyed by field name.
 */
export type SszType = UintType | ByteVectorType | ByteListType | BitVectorType | BitListType | ListType | VectorType | ContainerType;

export interface UintType {
  readonly kind: 'uint';
  /** 8 for uint64, 32 for uint256. */
  readonly byteLength: number;
}

export interface ByteVectorType {
  readonly kind: 'byteVector';
  readonly length: number;
}

export interface ByteListType {
  readonly kind: 'byteList';
  readonly limit: number;
}

export interface BitVectorType {
  readonly kind: 'bitVector';
  readonly length: number;
}

export interface BitListType {
  readonly kind: 'bitList';
  readonly limit: number;
}

export interface ListType {
  readonly kind: 'list';
  readonly element: SszType;
  readonly limit: number;
}

export interface VectorType {
  readonly kind: 'vector';
  readonly element: SszType;
  readonly length: number;
}

export interface ContainerType {
  readonly kind: 'container';
  readonly fields: Readonly<Record<string, SszType>>;
}

/**
 * The value of a bitvector or bitlist: `length` bits, bit i in byte i / 8 at position i % 8 (least
 * significant first), in exactly ceil(length / 8) bytes whose bits past `length` are zero. A bitlist's
 * length-marking bit is not part of it (see bits.ts).
 */
export interface Bits {
  readonly bytes: Uint8Array;
  readonly length: number;
}

export const uint = (byteLength: 8 | 32): UintType => ({ kind: 'uint', byteLength });
export const byteVector = (length: number): ByteVectorType => ({ kind: 'byteVector', length });
export const byteList = (limit: number): ByteListType => ({ kind: 'byteList', limit });
export const bitVector = (length: number): BitVectorType => ({ kind: 'bitVector', length });
export const bitList = (limit: number): BitListType => ({ kind: 'bitList', limit });
export const list = (element: SszType, limit: number): ListType => ({ kind: 'list', element, limit });
export const vector = (element: SszType, length: number): VectorType => ({ kind: 'vector', element, length });
export const container = (fields: Record<string, SszType>): ContainerType => ({ kind: 'container', fields });
