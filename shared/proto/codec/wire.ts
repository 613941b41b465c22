/** Protocol Buffers' wire format: varints, tags and length-delimited fields. */
import { ProtoCodecError } from './errors.js';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

export class WireWriter {
  private buffer = Buffer.allocUnsafe(256);
  private length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  /** A non-negative integer up to 2^64 - 1. */
  varint(value: bigint | number): void {
    this.reserve(10);
    if (typeof value === 'number' && value <= 0x7fffffff) {
      let rest = value >>> 0;
      while (rest > 0x7f) {
        this.buffer[this.length++] = (rest & 0x7f) | 0x80;
        rest >>>= 7;
      }
      this.buffer[this.length++] = rest;
      return;
    }
    let rest = BigInt(value);
    while (rest > 0x7fn) {
      this.buffer[this.length++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.length++] = Number(rest);
  }

  tag(fieldNumber: number, wireType: number): void {
    this.varint(fieldNumber * 8 + wireType);
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }

  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}

export class WireReader {
  position = 0;

  constructor(readonly buffer: Buffer) {}

  get done(): boolean {
    return this.position >= this.buffer.length;
  }

  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.position >= this.buffer.length) throw new ProtoCodecError('truncated varint');
      const byte = this.buffer[this.position++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value & 0xffffffffffffffffn;
    }
    throw new ProtoCodecError('varint longer than 10 bytes');
  }

  /** A varint known to be small (tags, lengths, 32-bit fields), without BigInt. */
  smallVarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.position >= this.buffer.length) throw new ProtoCodecError('truncated varint');
      const byte = this.buffer[this.position++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    // A 32-bit field's negative value comes as 10 bytes: keep the low 32 bits, skip the rest.
    for (let extra = 0; extra < 5; extra++) {
      if (this.position >= this.buffer.length) throw new ProtoCodecError('truncated varint');
      if (this.buffer[this.position++]! < 0x80) return value % 2 ** 32;
    }
    throw new ProtoCodecError('varint longer than 10 bytes');
  }

  lengthDelimited(): Buffer {
    const length = this.smallVarint();
    const end = this.position + length;
    if (end > this.buffer.length) throw new ProtoCodecError(`a field of ${length} bytes runs past the end of the message`);
    const value = this.buffer.subarray(this.position, end);
    this.position = end;
    return value;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT: this.varint(); return;
      case WIRE_FIXED64: this.advance(8); return;
      case WIRE_LENGTH_DELIMITED: this.lengthDelimited(); return;
      case WIRE_FIXED32: this.advance(4); return;
      default: throw new ProtoCodecError(`unknown wire type ${wireType}`);
    }
  }

  private advance(bytes: number): void {
    if (this.position + bytes > this.buffer.length) throw new ProtoCodecError('truncated fixed-width field');
    this.position += bytes;
  }
}
