import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkInterchangeFor,
  emptyInterchange,
  interchangeFor,
  mergeInterchanges,
  parseInterchange,
  serializeInterchange,
  SlashingProtectionError,
  watermarks,
  type Interchange,
  type InterchangeRecord,
} from '../../shared/eth/slashing-protection/index.js';
import { intBetween, pick, seededRandom } from '../support/prng.js';

// The example instance of EIP-3076 (https://eips.ethereum.org/EIPS/eip-3076#example-json-instance).
const EIP_EXAMPLE = {
  metadata: { interchange_format_version: '5', genesis_validators_root: '0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673' },
  data: [
    {
      pubkey: '0xb845089a1457f811bfc000588fbb4e713669be8ce060ea6be3c6ece09afc3794106c91ca73acda5e5457122d58723bed',
      signed_blocks: [{ slot: '81952', signing_root: '0x4ff6f743a43f3b4f95350831aeaf0a122a1a392922c45d804280284a69eb850b' }, { slot: '81951' }],
      signed_attestations: [
        { source_epoch: '2290', target_epoch: '3007', signing_root: '0x587d6a4f59a58fe24f406e0502413e77fe1babddee641fda30034ed37ecc884d' },
        { source_epoch: '2290', target_epoch: '3008' },
      ],
    },
  ],
};
const ROOT = EIP_EXAMPLE.metadata.genesis_validators_root;
const KEY = EIP_EXAMPLE.data[0]!.pubkey;
const KEYS = ['0x' + 'a1'.repeat(48), '0x' + 'b2'.repeat(48), '0x' + 'c3'.repeat(48)];

function withChange(change: (doc: any) => void): unknown {
  const doc = structuredClone(EIP_EXAMPLE) as any;
  change(doc);
  return doc;
}

function record(pubkey: string, blocks: Array<bigint>, attestations: Array<[bigint, bigint]>): InterchangeRecord {
  return { pubkey, signedBlocks: blocks.map((slot) => ({ slot })), signedAttestations: attestations.map(([sourceEpoch, targetEpoch]) => ({ sourceEpoch, targetEpoch })) };
}

function interchange(...data: InterchangeRecord[]): Interchange {
  return { ...emptyInterchange(ROOT), data };
}

function refusal(run: () => unknown): SlashingProtectionError {
  try {
    run();
  } catch (error) {
    assert.instance(error, SlashingProtectionError);
    return error as SlashingProtectionError;
  }
  throw new Error('expected a SlashingProtectionError, nothing was thrown');
}

test('the EIP-3076 example parses, and serialises back to the same document', () => {
  const parsed = parseInterchange(JSON.stringify(EIP_EXAMPLE));
  assert.is(parsed.data[0]!.signedBlocks[0]!.slot, 81952n);
  assert.is(parsed.data[0]!.signedAttestations[1]!.targetEpoch, 3008n);
  assert.is(parsed.data[0]!.signedAttestations[1]!.signingRoot, undefined);
  assert.equal(JSON.parse(serializeInterchange(parsed)), EIP_EXAMPLE);
  assert.equal(parseInterchange(EIP_EXAMPLE), parsed, 'an already-parsed JSON value is accepted too');
});

test('hex is normalised to lowercase so that keys compare by value', () => {
  const parsed = parseInterchange(withChange((doc) => (doc.data[0].pubkey = KEY.toUpperCase().replace('0X', '0x'))));
  assert.is(parsed.data[0]!.pubkey, KEY);
  assert.is(watermarks(parsed, KEY.toUpperCase().replace('0X', '0x')).maxBlockSlot, 81952n);
});

test('values above 2^53, up to 2^64-1, survive parse and serialise exactly', () => {
  const text = JSON.stringify(
    withChange((doc) => {
      doc.data[0].signed_blocks = [{ slot: '18446744073709551615' }];
      doc.data[0].signed_attestations = [{ source_epoch: '9007199254740993', target_epoch: '9007199254740995' }];
    }),
  );
  const parsed = parseInterchange(text);
  assert.is(parsed.data[0]!.signedBlocks[0]!.slot, 2n ** 64n - 1n);
  assert.is(watermarks(parsed, KEY).maxSourceEpoch, 2n ** 53n + 1n);
  assert.is(serializeInterchange(parsed), text);
  const merged = mergeInterchanges(parsed, parsed);
  assert.match(serializeInterchange(merged), /"slot":"18446744073709551615".*"source_epoch":"9007199254740993","target_epoch":"9007199254740995"/);
});

const INVALID: Array<[string, unknown, RegExp]> = [
  ['text that is not JSON', '{"metadata":', /not valid JSON/],
  ['a document that is an array', [], /the document must be a JSON object, not an array/],
  ['a missing metadata', withChange((doc) => delete doc.metadata), /metadata must be a JSON object, not missing/],
  ['format version 4', withChange((doc) => (doc.metadata.interchange_format_version = '4')), /interchange_format_version is "4"; only "5"/],
  ['format version as a number', withChange((doc) => (doc.metadata.interchange_format_version = 5)), /interchange_format_version is 5; only "5" \(a string\)/],
  ['a short genesis root', withChange((doc) => (doc.metadata.genesis_validators_root = '0x0470')), /metadata\.genesis_validators_root must be 0x followed by 32 bytes of hex, not "0x0470"/],
  ['a genesis root without 0x', withChange((doc) => (doc.metadata.genesis_validators_root = ROOT.slice(2))), /genesis_validators_root must be 0x followed by 32 bytes/],
  ['data that is not an array', withChange((doc) => (doc.data = {})), /: data must be an array, not an object/],
  ['a pubkey of 32 bytes', withChange((doc) => (doc.data[0].pubkey = ROOT)), /data\[0\]\.pubkey must be 0x followed by 48 bytes of hex/],
  ['a pubkey that is not hex', withChange((doc) => (doc.data[0].pubkey = '0x' + 'zz'.repeat(48))), /data\[0\]\.pubkey must be 0x followed by 48 bytes/],
  ['missing signed_blocks', withChange((doc) => delete doc.data[0].signed_blocks), /data\[0\]\.signed_blocks must be an array, not missing/],
  ['missing signed_attestations', withChange((doc) => delete doc.data[0].signed_attestations), /data\[0\]\.signed_attestations must be an array, not missing/],
  ['a slot as a number', withChange((doc) => (doc.data[0].signed_blocks[1].slot = 81951)), /data\[0\]\.signed_blocks\[1\]\.slot must be a decimal string, not 81951/],
  ['a negative slot', withChange((doc) => (doc.data[0].signed_blocks[0].slot = '-1')), /signed_blocks\[0\]\.slot must be a decimal string, not "-1"/],
  ['a hex slot', withChange((doc) => (doc.data[0].signed_blocks[0].slot = '0x10')), /signed_blocks\[0\]\.slot must be a decimal string/],
  ['a slot beyond uint64', withChange((doc) => (doc.data[0].signed_blocks[0].slot = '18446744073709551616')), /signed_blocks\[0\]\.slot 18446744073709551616 does not fit in a uint64/],
  ['a short block signing root', withChange((doc) => (doc.data[0].signed_blocks[0].signing_root = '0x4ff6')), /signed_blocks\[0\]\.signing_root must be 0x followed by 32 bytes/],
  ['a missing source epoch', withChange((doc) => delete doc.data[0].signed_attestations[0].source_epoch), /signed_attestations\[0\]\.source_epoch must be a decimal string, not missing/],
  ['a target epoch with a decimal point', withChange((doc) => (doc.data[0].signed_attestations[1].target_epoch = '3008.0')), /signed_attestations\[1\]\.target_epoch must be a decimal string, not "3008.0"/],
  ['a source after its target', withChange((doc) => (doc.data[0].signed_attestations[1].source_epoch = '3009')), /signed_attestations\[1\]\.source_epoch 3009 is greater than its target_epoch 3008/],
  ['a null attestation signing root', withChange((doc) => (doc.data[0].signed_attestations[0].signing_root = null)), /signed_attestations\[0\]\.signing_root must be 0x followed by 32 bytes of hex, not null/],
];

for (const [what, input, message] of INVALID) {
  test(`refused with a message naming the field: ${what}`, () => {
    const error = refusal(() => parseInterchange(input));
    assert.is(error.code, 'INTERCHANGE_FORMAT');
    assert.match(error.message, message);
    assert.match(error.message, /Export it again/);
  });
}

test('checkInterchangeFor accepts the right chain and keys, case-insensitively', () => {
  const parsed = parseInterchange(EIP_EXAMPLE);
  checkInterchangeFor({ interchange: parsed, genesisValidatorsRoot: ROOT.toUpperCase().replace('0X', '0x'), allowedPubKeys: [KEY.toUpperCase().replace('0X', '0x'), KEYS[0]!] });
  checkInterchangeFor({ interchange: emptyInterchange(ROOT), genesisValidatorsRoot: ROOT, allowedPubKeys: [] });
});

test('checkInterchangeFor refuses another chain', () => {
  const error = refusal(() => checkInterchangeFor({ interchange: parseInterchange(EIP_EXAMPLE), genesisValidatorsRoot: '0x' + '00'.repeat(32), allowedPubKeys: [KEY] }));
  assert.is(error.code, 'INTERCHANGE_GENESIS');
  assert.match(error.message, new RegExp(`genesis_validators_root ${ROOT}, not 0x0{64}`));
});

test('checkInterchangeFor refuses a key it was not given for, and names it', () => {
  const parsed = interchange(record(KEYS[0]!, [1n], []), record(KEYS[1]!, [], []));
  const error = refusal(() => checkInterchangeFor({ interchange: parsed, genesisValidatorsRoot: ROOT, allowedPubKeys: [KEYS[0]!] }));
  assert.is(error.code, 'INTERCHANGE_FOREIGN_KEY');
  assert.match(error.message, KEYS[1]!);
});

test('watermarks span every entry of a key, and are null where it signed nothing', () => {
  const parsed = interchange(record(KEYS[0]!, [5n, 9n], [[2n, 3n]]), record(KEYS[1]!, [7n], []), record(KEYS[0]!, [8n], [[4n, 4n], [1n, 6n]]));
  assert.equal(watermarks(parsed, KEYS[0]!), { maxBlockSlot: 9n, maxSourceEpoch: 4n, maxTargetEpoch: 6n });
  assert.equal(watermarks(parsed, KEYS[1]!), { maxBlockSlot: 7n, maxSourceEpoch: null, maxTargetEpoch: null });
  assert.equal(watermarks(parsed, KEYS[2]!), { maxBlockSlot: null, maxSourceEpoch: null, maxTargetEpoch: null });
});

test('a merge that would lower a watermark keeps the higher one, whichever side it is on', () => {
  const older = interchange(record(KEYS[0]!, [100n], [[10n, 11n]]));
  const newer = interchange(record(KEYS[0]!, [90n], [[12n, 12n]]), record(KEYS[1]!, [], [[1n, 2n]]));
  for (const merged of [mergeInterchanges(older, newer), mergeInterchanges(newer, older)]) {
    assert.equal(merged.data, [record(KEYS[0]!, [100n], [[12n, 12n]]), record(KEYS[1]!, [], [[1n, 2n]])]);
  }
});

test('merging collapses several entries of one key into one minimal entry, and keeps keys with no history', () => {
  const merged = mergeInterchanges(interchange(record(KEYS[1]!, [3n], []), record(KEYS[1]!, [], [[5n, 9n]]), record(KEYS[0]!, [], [])), emptyInterchange(ROOT));
  assert.equal(merged.data, [record(KEYS[0]!, [], []), record(KEYS[1]!, [3n], [[5n, 9n]])]);
  assert.equal(parseInterchange(serializeInterchange(merged)), merged, 'the result is a valid v5 interchange');
});

test('merging two chains is refused', () => {
  const error = refusal(() => mergeInterchanges(emptyInterchange(ROOT), emptyInterchange('0x' + '11'.repeat(32))));
  assert.is(error.code, 'INTERCHANGE_GENESIS');
});

test('interchangeFor keeps only the named keys, in any case', () => {
  const all = interchange(record(KEYS[0]!, [1n], []), record(KEYS[1]!, [2n], []), record(KEYS[0]!, [3n], []));
  assert.equal(interchangeFor(all, [KEYS[0]!.toUpperCase().replace('0X', '0x')]).data, [all.data[0], all.data[2]]);
  assert.equal(interchangeFor(all, []).data, []);
});

/** A random valid interchange over three keys: duplicate entries, empty histories, epochs and slots beyond 2^53. */
function randomInterchange(random: () => number): Interchange {
  const big = () => (BigInt(intBetween(random, 0, 2 ** 21)) << 32n) + BigInt(intBetween(random, 0, 2 ** 32 - 1));
  const small = () => BigInt(intBetween(random, 0, 50));
  const value = () => (random() < 0.3 ? big() : small());
  const records = Array.from({ length: intBetween(random, 0, 4) }, () => {
    const blocks = Array.from({ length: intBetween(random, 0, 3) }, value);
    const attestations = Array.from({ length: intBetween(random, 0, 3) }, (): [bigint, bigint] => {
      const source = value();
      return [source, source + (random() < 0.5 ? small() : big())];
    });
    return record(pick(random, KEYS), blocks, attestations);
  });
  return interchange(...records);
}

test('property: merge is commutative, associative and idempotent, never lowers a watermark, and yields a valid v5 interchange', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const random = seededRandom(seed);
    const [a, b, c] = [randomInterchange(random), randomInterchange(random), randomInterchange(random)];
    const ab = mergeInterchanges(a, b);
    const context = `seed ${seed}`;
    assert.is(serializeInterchange(ab), serializeInterchange(mergeInterchanges(b, a)), `commutative, ${context}`);
    assert.is(serializeInterchange(mergeInterchanges(ab, c)), serializeInterchange(mergeInterchanges(a, mergeInterchanges(b, c))), `associative, ${context}`);
    assert.is(serializeInterchange(mergeInterchanges(ab, ab)), serializeInterchange(ab), `idempotent, ${context}`);
    assert.equal(parseInterchange(serializeInterchange(ab)), ab, `valid v5, ${context}`);
    for (const key of KEYS) {
      const [marksA, marksB, marksAA] = [watermarks(a, key), watermarks(b, key), watermarks(mergeInterchanges(a, a), key)];
      assert.equal(marksAA, watermarks(a, key), `idempotent on watermarks, ${context}`);
      const merged = watermarks(ab, key);
      for (const field of ['maxBlockSlot', 'maxSourceEpoch', 'maxTargetEpoch'] as const) {
        const expected = [marksA[field], marksB[field]].filter((v): v is bigint => v !== null).reduce<bigint | null>((m, v) => (m === null || v > m ? v : m), null);
        assert.is(merged[field], expected, `${field} of ${key} is the higher input, ${context}`);
      }
    }
  }
});

test.run();
