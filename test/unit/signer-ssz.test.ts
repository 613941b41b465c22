/**
 * The signer's own SSZ hash_tree_root (agent/signer/ssz) against @chainsafe/ssz, kept as the reference in
 * tests only: every type the signer hashes, on seeded random values that often sit at the edges, and the
 * edges themselves one by one; then the values it refuses, with the message naming what is wrong.
 */
import { BitListType, BitVectorType } from '@chainsafe/ssz';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESET_NAMES } from '../../shared/eth/consensus-preset.js';
import {
  bitList,
  bitListFromBytes,
  bitVector,
  bitVectorFromBytes,
  byteList,
  byteVector,
  container,
  hashTreeRoot,
  list,
  SszError,
  uint,
  vector,
  type SszType,
} from '../../agent/signer/ssz/index.js';
import * as fixedTypes from '../../agent/signer/ssz-types.js';
import { typesFor } from '../../agent/signer/ssz-types.js';
import { intBetween, seededRandom } from '../support/prng.js';
import { randomValue, referenceType, referenceValue } from '../support/ssz-reference.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Asserts that our root of `value` is @chainsafe/ssz's. */
function assertSameRoot(type: SszType, value: unknown, label: string): void {
  const ours = hex(hashTreeRoot(type, value));
  const reference = hex(referenceType(type).hashTreeRoot(referenceValue(type, value)));
  assert.is(ours, reference, label);
}

/** Every type the signer hashes, by name: the preset-free containers, then each preset's. */
function signerTypes(): Array<[string, SszType]> {
  const types: Array<[string, SszType]> = [];
  for (const [name, type] of Object.entries(fixedTypes)) {
    if (typeof type === 'object' && type !== null && 'kind' in type) types.push([name, type as SszType]);
  }
  for (const preset of PRESET_NAMES) {
    const t = typesFor(preset);
    types.push([`${preset} AggregateAndProof`, t.AggregateAndProof], [`${preset} AggregateAndProofElectra`, t.AggregateAndProofElectra], [`${preset} ContributionAndProof`, t.ContributionAndProof]);
    for (const [version, type] of Object.entries(t.BeaconBlock)) types.push([`${preset} BeaconBlock ${version}`, type]);
    for (const [version, type] of Object.entries(t.BlindedBeaconBlock)) types.push([`${preset} BlindedBeaconBlock ${version}`, type]);
  }
  return types;
}

test('every signer type has the root @chainsafe/ssz computes, on 40 seeded values each', () => {
  const types = signerTypes();
  assert.ok(types.length >= 11 + 2 * 9, `expected every signer type, found ${types.map(([name]) => name).join(', ')}`);
  const random = seededRandom(12);
  for (const [name, type] of types) {
    for (let i = 0; i < 40; i += 1) assertSameRoot(type, randomValue(type, random), `${name} #${i}`);
  }
});

test('bitlists of 0, 1, 7, 8, 255, 256, 257 bits and at their limit; bitvectors of 1 to 2048 bits', () => {
  const random = seededRandom(7);
  const bits = (length: number, fill: number) => {
    const bytes = new Uint8Array(Math.ceil(length / 8)).fill(fill);
    if (length % 8 !== 0) bytes[bytes.length - 1] &= (1 << (length % 8)) - 1;
    return { bytes, length };
  };
  for (const limit of [1, 8, 255, 256, 257, 2048, 8192]) {
    for (const length of [0, 1, 7, 8, 255, 256, 257, limit].filter((n) => n <= limit)) {
      for (const fill of [0x00, 0xff, intBetween(random, 1, 254)]) assertSameRoot(bitList(limit), bits(length, fill), `bitlist ${length}/${limit} fill ${fill}`);
    }
  }
  for (const length of [1, 7, 8, 9, 32, 255, 256, 257, 512, 2048]) {
    for (const fill of [0x00, 0xff, 0x5a]) assertSameRoot(bitVector(length), bits(length, fill), `bitvector ${length} fill ${fill}`);
  }
});

test('integers at their edges, byte vectors across chunk boundaries, byte lists empty and at their limit', () => {
  for (const value of [0n, 1n, 255n, 256n, 2n ** 53n + 1n, 2n ** 64n - 1n]) assertSameRoot(uint(8), value, `uint64 ${value}`);
  for (const value of [0n, 2n ** 64n, 2n ** 128n + 3n, 2n ** 256n - 1n]) assertSameRoot(uint(32), value, `uint256 ${value}`);
  const random = seededRandom(3);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => intBetween(random, 0, 255));
  for (const length of [1, 4, 20, 31, 32, 33, 48, 64, 65, 96, 256]) assertSameRoot(byteVector(length), bytes(length), `bytes${length}`);
  for (const limit of [1, 32, 33, 64, 2 ** 30]) {
    for (const length of [0, 1, 31, 32, 33, limit].filter((n) => n <= Math.min(limit, 4096))) assertSameRoot(byteList(limit), bytes(length), `bytelist ${length}/${limit}`);
  }
});

test('lists and vectors of basic and composite elements, empty, partly filled and at their limit, nested', () => {
  const random = seededRandom(5);
  const uint64s = (n: number) => Array.from({ length: n }, () => BigInt(intBetween(random, 0, 2 ** 31)) * 2n ** 32n + 7n);
  for (const limit of [1, 3, 4, 5, 8, 2048]) {
    for (const length of [0, 1, 4, limit].filter((n) => n <= limit)) assertSameRoot(list(uint(8), limit), uint64s(length), `list of ${length}/${limit} uint64`);
  }
  assertSameRoot(list(uint(32), 3), [1n, 2n ** 256n - 1n, 0n], 'list of uint256');
  assertSameRoot(vector(uint(8), 5), uint64s(5), 'vector of 5 uint64');
  const root = byteVector(32);
  for (const limit of [1, 2, 16, 2 ** 20]) {
    for (const length of [0, 1, 3, limit].filter((n) => n <= Math.min(limit, 64))) {
      assertSameRoot(list(root, limit), randomValue(list(root, length), random, { listItems: length, bytes: 0 }), `list of ${length}/${limit} roots`);
    }
  }
  assertSameRoot(vector(root, 33), randomValue(vector(root, 33), random), 'vector of 33 roots');
  const nested = container({
    a: list(list(uint(8), 3), 5),
    b: vector(container({ c: byteList(40), d: bitList(9) }), 2),
    e: list(container({ f: uint(8) }), 1),
  });
  for (let i = 0; i < 30; i += 1) assertSameRoot(nested, randomValue(nested, random, { listItems: 5, bytes: 40 }), `nested #${i}`);
});

test('bitlists and bitvectors read from their SSZ bytes as @chainsafe/ssz reads them, and refused where it refuses them', () => {
  const random = seededRandom(9);
  for (const limit of [1, 8, 9, 2048]) {
    const reference = new BitListType(limit);
    for (let i = 0; i < 300; i += 1) {
      const serialized = Uint8Array.from({ length: intBetween(random, 0, Math.floor(limit / 8) + 2) }, () => pickByte(random));
      const expected = attempt(() => reference.deserialize(serialized));
      const ours = attempt(() => bitListFromBytes(bitList(limit), serialized));
      assert.is(ours.ok, expected.ok, `bitlist/${limit} 0x${hex(serialized)}`);
      if (ours.ok && expected.ok) assert.equal([hex(ours.value.bytes), ours.value.length], [hex(expected.value.uint8Array), expected.value.bitLen], `bitlist/${limit} 0x${hex(serialized)}`);
    }
  }
  for (const length of [1, 4, 8, 12, 512]) {
    const reference = new BitVectorType(length);
    for (let i = 0; i < 200; i += 1) {
      const serialized = Uint8Array.from({ length: Math.ceil(length / 8) }, () => pickByte(random));
      const expected = attempt(() => reference.deserialize(serialized));
      const ours = attempt(() => bitVectorFromBytes(bitVector(length), serialized));
      assert.is(ours.ok, expected.ok, `bitvector/${length} 0x${hex(serialized)}`);
      if (ours.ok && expected.ok) assert.is(hex(ours.value.bytes), hex(expected.value.uint8Array));
    }
  }
});

/** Mostly the bytes that matter at a bitlist's end: 0, 1, and those with a high bit. */
function pickByte(random: () => number): number {
  const r = random();
  return r < 0.2 ? 0 : r < 0.4 ? 1 : r < 0.5 ? 0x80 : intBetween(random, 0, 255);
}

function attempt<T>(run: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: run() };
  } catch {
    return { ok: false };
  }
}

test('values that do not fit their type are refused with an SszError saying where and what is wrong', () => {
  const inner = container({ b: byteVector(4), n: uint(8) });
  const outer = container({ a: list(inner, 3), bits: bitList(16) });
  const good = { a: [{ b: new Uint8Array(4), n: 1n }], bits: { bytes: new Uint8Array(1), length: 3 } };
  hashTreeRoot(outer, good);
  const cases: Array<[SszType, unknown, string]> = [
    [list(uint(8), 2), [1n, 2n, 3n], 'the value does not fit its SSZ type: it has 3 elements; at most 2 are allowed'],
    [byteVector(32), new Uint8Array(31), 'the value does not fit its SSZ type: it has 31 bytes; exactly 32 are required'],
    [byteList(4), new Uint8Array(5), 'the value does not fit its SSZ type: it has 5 bytes; at most 4 are allowed'],
    [vector(byteVector(32), 33), [], 'the value does not fit its SSZ type: it has 0 elements; exactly 33 are required'],
    [uint(8), 2n ** 64n, 'the value does not fit its SSZ type: a uint64 is a bigint from 0 to 2^64 - 1, not 18446744073709551616'],
    [uint(8), 5, 'the value does not fit its SSZ type: a uint64 is a bigint from 0 to 2^64 - 1, not the number 5'],
    [bitList(8), { bytes: new Uint8Array(2), length: 9 }, 'the value does not fit its SSZ type: it holds 9 bits; at most 8 are allowed'],
    [bitVector(4), { bytes: Uint8Array.of(0x1f), length: 4 }, 'the value does not fit its SSZ type: bits past the 4 it holds are set'],
    [bitVector(12), { bytes: new Uint8Array(1), length: 12 }, 'the value does not fit its SSZ type: 12 bits take 2 bytes, not 1'],
    [outer, { ...good, a: [good.a[0], { b: new Uint8Array(3), n: 1n }] }, 'a[1].b does not fit its SSZ type: it has 3 bytes; exactly 4 are required'],
    [outer, { ...good, a: [{ n: 1n }] }, 'a[0].b does not fit its SSZ type: bytes are a Uint8Array, not undefined'],
    [outer, { ...good, bits: new Uint8Array(1) }, 'bits does not fit its SSZ type: bits are { bytes: Uint8Array, length: number }, not 1 bytes'],
    [outer, [], 'the value does not fit its SSZ type: a container is an object of its fields, not an array'],
  ];
  for (const [type, value, message] of cases) {
    const error = thrown(() => hashTreeRoot(type, value));
    assert.instance(error, SszError, message);
    assert.is((error as SszError).code, 'SSZ_VALUE');
    assert.is((error as SszError).message, message);
  }
  const refusals: Array<[() => unknown, string]> = [
    [() => bitListFromBytes(bitList(8), new Uint8Array(0)), 'a bitlist ends with a byte holding its length bit; this one ends with a zero byte or is empty'],
    [() => bitListFromBytes(bitList(8), Uint8Array.of(0xff, 0x00)), 'a bitlist ends with a byte holding its length bit; this one ends with a zero byte or is empty'],
    [() => bitListFromBytes(bitList(8), Uint8Array.of(0x00, 0x02)), 'it holds 9 bits, over the limit of 8'],
    [() => bitVectorFromBytes(bitVector(4), Uint8Array.of(0x10)), 'bits past the 4 it holds are set'],
  ];
  for (const [run, reason] of refusals) {
    const error = thrown(run);
    assert.instance(error, SszError, reason);
    assert.is((error as SszError).reason, reason);
  }
});

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return assert.unreachable('nothing was thrown');
}

test.run();
