/**
 * shared/proto/codec, the agent's Protocol Buffers codec, against protobufjs (what the coordinator's
 * proto-loader uses): the same messages both ways, for every keylease.v1 message and for every scalar
 * type the codec claims to support, and clear errors for what it does not.
 */
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProtoCodecError } from '../../shared/proto/codec/errors.js';
import { DescriptorCodecs, type DescriptorNamespace } from '../../shared/proto/codec/message-codec.js';
import { keyleaseDescriptor } from '../../shared/proto/generated/descriptors.js';

const protoDir = fileURLToPath(new URL('../../shared/proto/', import.meta.url));
const OPTIONS = { longs: String, enums: String, defaults: true, oneofs: true, keepCase: false };

test('every keylease.v1 message: proto-loader → codec and codec → proto-loader give the same fields', () => {
  const parsed = protoLoader.loadSync(`${protoDir}keylease.proto`, OPTIONS);
  const codecs = new DescriptorCodecs(keyleaseDescriptor as unknown as DescriptorNamespace);
  const messages = Object.entries(parsed).filter(([, definition]) => 'format' in definition) as Array<[string, protoLoader.MessageTypeDefinition<object, object>]>;
  const declared = readFileSync(`${protoDir}keylease.proto`, 'utf8').match(/^message /gm)?.length ?? 0;
  assert.is(messages.length, declared, 'every message the .proto declares');
  const root = new protobuf.Root().loadSync(`${protoDir}keylease.proto`, { keepCase: false }).resolveAll();
  // Every field set (a message field to a sample of its own type): a type the sample cannot fill fails here.
  const sampleOf = (type: protobuf.Type): Record<string, unknown> => {
    const sample: Record<string, unknown> = {};
    for (const field of type.fieldsArray) {
      const one =
        field.type === 'string' ? `${field.name} ✓ ${type.name}` : field.type === 'uint32' ? 4_000_000_000 : field.type === 'bool' ? true : field.resolvedType instanceof protobuf.Type ? sampleOf(field.resolvedType) : assert.unreachable(`${type.name}.${field.name}: no sample for ${field.type}`);
      sample[field.name] = field.repeated ? [one, one] : one;
    }
    return sample;
  };
  for (const [name] of messages) {
    const type = root.lookupType(name);
    const sample = sampleOf(type);
    const codec = codecs.codec(name);
    const fromProtobuf = Buffer.from(type.encode(type.fromObject(sample)).finish());
    const expected = type.toObject(type.decode(fromProtobuf), { ...OPTIONS, arrays: true });
    assert.equal(codec.decode(fromProtobuf), expected, `${name}: decoding protobufjs' bytes`);
    assert.equal(type.toObject(type.decode(codec.encode(sample)), { ...OPTIONS, arrays: true }), expected, `${name}: protobufjs decoding the codec's bytes`);
    assert.equal(codec.decode(Buffer.alloc(0)), type.toObject(type.decode(Buffer.alloc(0)), { ...OPTIONS, arrays: true }), `${name}: defaults of an empty message`);
  }
});

const SCALARS_PROTO = `
syntax = "proto3";
package t;
message Inner { string text = 1; }
message All {
  int32 small_signed = 1;
  int64 big_signed = 2;
  uint64 big = 3;
  uint32 small = 4;
  bool flag = 5;
  bytes raw = 6;
  repeated uint32 counts = 7;
  repeated Inner inners = 8;
  Inner one = 9;
  repeated string names = 10;
}
`;

test('every supported scalar, negative and extreme values, packed repeats and nested messages match protobufjs', () => {
  const root = protobuf.parse(SCALARS_PROTO, { keepCase: false }).root;
  const type = root.lookupType('t.All');
  const codec = new DescriptorCodecs(root.toJSON() as unknown as DescriptorNamespace).codec('t.All');
  const samples = [
    { smallSigned: -1, bigSigned: '-9223372036854775808', big: '18446744073709551615', small: 4294967295, flag: true, raw: Buffer.from([0, 1, 255]), counts: [0, 1, 300, 4294967295], inners: [{ text: 'a' }, { text: '' }], one: { text: 'é' }, names: ['', 'x'] },
    { smallSigned: -2147483648, bigSigned: '9223372036854775807', big: '1', small: 1, flag: false, raw: Buffer.alloc(0), counts: [], inners: [], names: [] },
    { smallSigned: 2147483647, bigSigned: '-1', big: '0', small: 0 },
  ];
  for (const sample of samples) {
    const theirs = Buffer.from(type.encode(type.fromObject(sample)).finish());
    const expected = type.toObject(type.decode(theirs), { ...OPTIONS, arrays: true });
    assert.equal(codec.decode(theirs), expected, `decode ${JSON.stringify(expected)}`);
    assert.equal(type.toObject(type.decode(codec.encode(sample)), { ...OPTIONS, arrays: true }), expected, `encode ${JSON.stringify(expected)}`);
  }
  // Unpacked repeated numbers (proto2 writers) are read too.
  const unpacked = Buffer.from([0x38, 0x05, 0x38, 0xac, 0x02]);
  assert.equal(codec.decode(unpacked)['counts'], [5, 300]);
});

test('unknown fields are skipped; truncated and mistyped fields are errors', () => {
  const root = protobuf.parse(SCALARS_PROTO, { keepCase: false }).root;
  const codec = new DescriptorCodecs(root.toJSON() as unknown as DescriptorNamespace).codec('t.Inner');
  // field 1 = "hi", then an unknown field 15 (varint) and an unknown field 16 (length-delimited).
  const withUnknown = Buffer.from([0x0a, 0x02, 0x68, 0x69, 0x78, 0x96, 0x01, 0x82, 0x01, 0x01, 0x00]);
  assert.equal(codec.decode(withUnknown), { text: 'hi' });
  assert.throws(() => codec.decode(Buffer.from([0x0a, 0x05, 0x68])), (e: unknown) => e instanceof ProtoCodecError && /runs past the end/.test((e as Error).message));
  assert.throws(() => codec.decode(Buffer.from([0x08, 0x01])), /Inner\.text came with wire type 0, expected 2/);
  assert.throws(() => codec.decode(Buffer.from([0x78, 0xff])), /truncated varint/);
});

test('values of the wrong kind are refused with the field named, and nothing is encoded', () => {
  const root = protobuf.parse(SCALARS_PROTO, { keepCase: false }).root;
  const codec = new DescriptorCodecs(root.toJSON() as unknown as DescriptorNamespace).codec('t.All');
  assert.throws(() => codec.encode({ small: -1 }), /t\.All\.small is a uint32: -1 is out of range/);
  assert.throws(() => codec.encode({ small: 1.5 }), /t\.All\.small is a uint32: got 1\.5/);
  assert.throws(() => codec.encode({ names: 'x' }), /t\.All\.names is repeated: give an array/);
  assert.throws(() => codec.encode({ flag: 'yes' }), /t\.All\.flag is a bool/);
  assert.throws(() => codec.encode({ one: 'x' }), /t\.All\.one is a t\.Inner: give an object/);
});

test('types the codec does not support are refused when it is made, naming the field', () => {
  const make = (body: string) => new DescriptorCodecs(protobuf.parse(`syntax = "proto3"; package u; ${body}`, { keepCase: false }).root.toJSON() as unknown as DescriptorNamespace);
  assert.throws(() => make('message M { double d = 1; }'), /u\.M\.d has type double, which this codec does not support/);
  assert.throws(() => make('enum E { A = 0; } message M { E e = 1; }'), /u\.M\.e has type E/);
  assert.throws(() => make('message M { map<string, string> m = 1; }'), /u\.M\.m is a map/);
  assert.throws(() => make('message M { oneof o { string a = 1; string b = 2; } }'), /u\.M has a oneof/);
});

test.run();
