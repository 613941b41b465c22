/**
 * Encodes and decodes messages from the JSON descriptors generate.sh writes, with the conventions of
 * @grpc/proto-loader's options here (camelCase names, 64-bit integers as decimal strings, every field
 * present on decode with its default). It covers the scalar types the contracts use; a descriptor with
 * any other type is refused when the codec is made, not when a message arrives.
 */
import { ProtoCodecError } from './errors.js';
import { WIRE_LENGTH_DELIMITED, WIRE_VARINT, WireReader, WireWriter } from './wire.js';

/** The parts of protobufjs' JSON descriptor this codec reads. */
export interface DescriptorNamespace {
  readonly nested?: Readonly<Record<string, DescriptorNamespace & DescriptorType & DescriptorService>>;
}
interface DescriptorType {
  readonly fields?: Readonly<Record<string, { readonly type: string; readonly id: number; readonly rule?: string; readonly keyType?: string }>>;
  readonly oneofs?: unknown;
}
interface DescriptorService {
  readonly methods?: Readonly<Record<string, { readonly requestType: string; readonly responseType: string; readonly requestStream?: boolean; readonly responseStream?: boolean }>>;
}

type Scalar = 'string' | 'bytes' | 'bool' | 'uint32' | 'int32' | 'uint64' | 'int64';
const SCALARS: ReadonlySet<string> = new Set<Scalar>(['string', 'bytes', 'bool', 'uint32', 'int32', 'uint64', 'int64']);

interface FieldPlan {
  readonly name: string;
  readonly id: number;
  readonly repeated: boolean;
  readonly scalar: Scalar | null;
  /** For message fields: the full name of the type. */
  readonly messageType: string | null;
}

export type ProtoMessage = Record<string, unknown>;

export interface MessageCodec {
  encode(message: Readonly<ProtoMessage>): Buffer;
  decode(bytes: Buffer): ProtoMessage;
}

const DEFAULTS: Record<Scalar, () => unknown> = { string: () => '', bytes: () => Buffer.alloc(0), bool: () => false, uint32: () => 0, int32: () => 0, uint64: () => '0', int64: () => '0' };

/** Every message type of a descriptor, by full name (`keylease.v1.ClaimRequest`). */
export class DescriptorCodecs {
  private readonly types = new Map<string, DescriptorType>();
  private readonly services = new Map<string, DescriptorService>();
  private readonly plans = new Map<string, FieldPlan[]>();
  private readonly codecs = new Map<string, MessageCodec>();

  constructor(descriptor: DescriptorNamespace) {
    this.collect(descriptor, '');
    for (const name of this.types.keys()) this.planOf(name);
  }

  codec(typeName: string): MessageCodec {
    let codec = this.codecs.get(typeName);
    if (!codec) {
      if (!this.types.has(typeName)) throw new ProtoCodecError(`no message type ${typeName} in the descriptor`);
      codec = { encode: (message) => this.encodeMessage(typeName, message), decode: (bytes) => this.decodeMessage(typeName, new WireReader(bytes)) };
      this.codecs.set(typeName, codec);
    }
    return codec;
  }

  /** A service's methods with full request and response type names. */
  service(serviceName: string): Array<{ name: string; requestType: string; responseType: string; requestStream: boolean; responseStream: boolean }> {
    const service = this.services.get(serviceName);
    if (!service?.methods) throw new ProtoCodecError(`no service ${serviceName} in the descriptor`);
    const scope = serviceName.slice(0, serviceName.lastIndexOf('.'));
    return Object.entries(service.methods).map(([name, method]) => ({
      name,
      requestType: this.resolve(method.requestType, scope, serviceName),
      responseType: this.resolve(method.responseType, scope, serviceName),
      requestStream: method.requestStream === true,
      responseStream: method.responseStream === true,
    }));
  }

  private collect(namespace: DescriptorNamespace, prefix: string): void {
    for (const [name, child] of Object.entries(namespace.nested ?? {})) {
      const fullName = prefix ? `${prefix}.${name}` : name;
      if (child.fields) this.types.set(fullName, child);
      if (child.methods) this.services.set(fullName, child);
      this.collect(child, fullName);
    }
  }

  /** A type reference as protobufjs writes it (relative to the scope, or absolute with a leading dot). */
  private resolve(reference: string, scope: string, where: string): string {
    if (reference.startsWith('.')) {
      if (this.types.has(reference.slice(1))) return reference.slice(1);
    } else {
      for (let at = scope; ; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
        const candidate = at ? `${at}.${reference}` : reference;
        if (this.types.has(candidate)) return candidate;
        if (!at) break;
      }
    }
    throw new ProtoCodecError(`${where} names type ${reference}, which the descriptor does not define`);
  }

  private planOf(typeName: string): FieldPlan[] {
    let plan = this.plans.get(typeName);
    if (plan) return plan;
    const type = this.types.get(typeName)!;
    if (type.oneofs) throw new ProtoCodecError(`${typeName} has a oneof, which this codec does not support: extend shared/proto/codec`);
    plan = Object.entries(type.fields ?? {}).map(([name, field]) => {
      const where = `${typeName}.${name}`;
      if (field.keyType !== undefined) throw new ProtoCodecError(`${where} is a map, which this codec does not support: extend shared/proto/codec`);
      const scalar = SCALARS.has(field.type) ? (field.type as Scalar) : null;
      const messageType = scalar ? null : this.resolveField(field.type, typeName, where);
      return { name, id: field.id, repeated: field.rule === 'repeated', scalar, messageType };
    });
    this.plans.set(typeName, plan);
    return plan;
  }

  private resolveField(reference: string, typeName: string, where: string): string {
    try {
      // Nested types first, then the enclosing scopes.
      return this.resolve(reference, typeName, where);
    } catch {
      throw new ProtoCodecError(`${where} has type ${reference}, which this codec does not support (not a supported scalar nor a message of the descriptor): extend shared/proto/codec`);
    }
  }

  private encodeMessage(typeName: string, message: Readonly<ProtoMessage>): Buffer {
    const writer = new WireWriter();
    this.writeFields(typeName, message, writer);
    return writer.finish();
  }

  private writeFields(typeName: string, message: Readonly<ProtoMessage>, writer: WireWriter): void {
    for (const field of this.planOf(typeName)) {
      const value = message[field.name];
      if (value === undefined || value === null) continue;
      if (field.repeated) {
        if (!Array.isArray(value)) throw new ProtoCodecError(`${typeName}.${field.name} is repeated: give an array`);
        if (field.scalar && field.scalar !== 'string' && field.scalar !== 'bytes') {
          // proto3 packs repeated numbers and booleans.
          if (value.length === 0) continue;
          const packed = new WireWriter();
          for (const item of value) this.writeScalar(field, item, packed, typeName, false);
          writer.tag(field.id, WIRE_LENGTH_DELIMITED);
          writer.bytes(packed.finish());
        } else {
          for (const item of value) this.writeOne(field, item, writer, typeName, true);
        }
      } else {
        this.writeOne(field, value, writer, typeName, false);
      }
    }
  }

  private writeOne(field: FieldPlan, value: unknown, writer: WireWriter, typeName: string, always: boolean): void {
    if (field.messageType) {
      if (typeof value !== 'object' || value === null) throw new ProtoCodecError(`${typeName}.${field.name} is a ${field.messageType}: give an object`);
      const nested = new WireWriter();
      this.writeFields(field.messageType, value as ProtoMessage, nested);
      writer.tag(field.id, WIRE_LENGTH_DELIMITED);
      writer.bytes(nested.finish());
      return;
    }
    this.writeScalar(field, value, writer, typeName, true, always);
  }

  /** With `tagged`, writes the tag too, and skips a proto3 default unless `always` (a repeated item). */
  private writeScalar(field: FieldPlan, value: unknown, writer: WireWriter, typeName: string, tagged: boolean, always = true): void {
    const where = `${typeName}.${field.name}`;
    switch (field.scalar!) {
      case 'string':
      case 'bytes': {
        let bytes: Uint8Array;
        if (field.scalar === 'string') {
          if (typeof value !== 'string') throw new ProtoCodecError(`${where} is a string: got ${typeof value}`);
          bytes = Buffer.from(value, 'utf8');
        } else {
          if (!(value instanceof Uint8Array)) throw new ProtoCodecError(`${where} is bytes: give a Buffer or Uint8Array`);
          bytes = value;
        }
        if (bytes.length === 0 && !always) return;
        if (tagged) writer.tag(field.id, WIRE_LENGTH_DELIMITED);
        writer.bytes(bytes);
        return;
      }
      case 'bool':
        if (typeof value !== 'boolean') throw new ProtoCodecError(`${where} is a bool: got ${typeof value}`);
        if (!value && !always) return;
        if (tagged) writer.tag(field.id, WIRE_VARINT);
        writer.varint(value ? 1 : 0);
        return;
      default: {
        const integer = integerOf(value, field.scalar!, where);
        if (integer === 0n && !always) return;
        if (tagged) writer.tag(field.id, WIRE_VARINT);
        // Negative numbers go on the wire as their 64-bit two's complement.
        writer.varint(integer < 0n ? integer + 2n ** 64n : integer);
      }
    }
  }

  private decodeMessage(typeName: string, reader: WireReader): ProtoMessage {
    const plan = this.planOf(typeName);
    const message: ProtoMessage = {};
    for (const field of plan) message[field.name] = field.repeated ? [] : field.scalar ? DEFAULTS[field.scalar]() : null;
    while (!reader.done) {
      const tag = reader.smallVarint();
      const fieldNumber = Math.floor(tag / 8);
      const wireType = tag % 8;
      const field = plan.find((f) => f.id === fieldNumber);
      if (!field) {
        reader.skip(wireType);
        continue;
      }
      const packable = field.repeated && field.scalar !== null && field.scalar !== 'string' && field.scalar !== 'bytes';
      if (packable && wireType === WIRE_LENGTH_DELIMITED) {
        const packed = new WireReader(reader.lengthDelimited());
        while (!packed.done) (message[field.name] as unknown[]).push(this.readScalar(field, packed));
        continue;
      }
      const expected = field.messageType || field.scalar === 'string' || field.scalar === 'bytes' ? WIRE_LENGTH_DELIMITED : WIRE_VARINT;
      if (wireType !== expected) throw new ProtoCodecError(`${typeName}.${field.name} came with wire type ${wireType}, expected ${expected}`);
      const value = field.messageType ? this.decodeMessage(field.messageType, new WireReader(reader.lengthDelimited())) : this.readScalar(field, reader);
      if (field.repeated) (message[field.name] as unknown[]).push(value);
      else message[field.name] = value;
    }
    return message;
  }

  private readScalar(field: FieldPlan, reader: WireReader): unknown {
    switch (field.scalar!) {
      case 'string': return reader.lengthDelimited().toString('utf8');
      case 'bytes': return Buffer.from(reader.lengthDelimited());
      case 'bool': return reader.varint() !== 0n;
      case 'uint32': return reader.smallVarint() >>> 0;
      case 'int32': return reader.smallVarint() | 0;
      case 'uint64': return reader.varint().toString();
      case 'int64': return BigInt.asIntN(64, reader.varint()).toString();
    }
  }
}

const RANGES: Record<Exclude<Scalar, 'string' | 'bytes' | 'bool'>, readonly [bigint, bigint]> = {
  uint32: [0n, 2n ** 32n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
};

function integerOf(value: unknown, scalar: Scalar, where: string): bigint {
  let integer: bigint;
  if (typeof value === 'number' && Number.isSafeInteger(value)) integer = BigInt(value);
  else if (typeof value === 'bigint') integer = value;
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) integer = BigInt(value);
  else throw new ProtoCodecError(`${where} is a ${scalar}: got ${typeof value === 'number' ? String(value) : typeof value}`);
  const [min, max] = RANGES[scalar as keyof typeof RANGES];
  if (integer < min || integer > max) throw new ProtoCodecError(`${where} is a ${scalar}: ${integer} is out of range`);
  return integer;
}
