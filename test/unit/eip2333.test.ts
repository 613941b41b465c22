import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as reference from '@chainsafe/bls-hd-key';
import { mnemonicToSeedSync } from '@scure/bip39';
import { createHash } from 'node:crypto';
import { deriveChildSK, deriveChildSKPath, deriveMasterSK } from '../../coordinator/keys/eip2333.js';
import { deriveSigningKey, deriveSigningKeyFromRoot, deriveValidatorRootKey, mnemonicToSeed } from '../../coordinator/keys/derive.js';

const bigintOf = (bytes: Uint8Array) => BigInt('0x' + Buffer.from(bytes).toString('hex'));

// The EIP's own test cases (https://eips.ethereum.org/EIPS/eip-2333#test-cases); the integers exceed 2^53.
const EIP2333_VECTORS = [
  {
    seed: 'c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04',
    masterSK: '6083874454709270928345386274498605044986640685124978867557563392430687146096',
    childIndex: 0,
    childSK: '20397789859736650942317412262472558107875392172444076792671091975210932703118',
  },
  {
    seed: '3141592653589793238462643383279502884197169399375105820974944592',
    masterSK: '29757020647961307431480504535336562678282505419141012933316116377660817309383',
    childIndex: 3141592653,
    childSK: '25457201688850691947727629385191704516744796114925897962676248250929345014287',
  },
  {
    seed: '0099FF991111002299DD7744EE3355BBDD8844115566CC55663355668888CC00',
    masterSK: '27580842291869792442942448775674722299803720648445448686099262467207037398656',
    childIndex: 4294967295,
    childSK: '29358610794459428860402234341874281240803786294062035874021252734817515685787',
  },
  {
    seed: 'd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3',
    masterSK: '19022158461524446591288038168518313374041767046816487870552872741050760015818',
    childIndex: 42,
    childSK: '31372231650479070279774297061823572166496564838472787488249775572789064611981',
  },
];

test('the EIP-2333 test vectors: seed to master_SK, child_index to child_SK', () => {
  for (const v of EIP2333_VECTORS) {
    const master = deriveMasterSK(Buffer.from(v.seed, 'hex'));
    assert.is(master.length, 32);
    assert.is(bigintOf(master).toString(), v.masterSK, `master of ${v.seed}`);
    const child = deriveChildSK(master, v.childIndex);
    assert.is(child.length, 32);
    assert.is(bigintOf(child).toString(), v.childSK, `child ${v.childIndex} of ${v.seed}`);
  }
});

test('EIP-2333 test case 0 seed is the BIP39 seed of its mnemonic with passphrase TREZOR', () => {
  const mnemonic = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
  assert.is(Buffer.from(mnemonicToSeedSync(mnemonic, 'TREZOR')).toString('hex'), EIP2333_VECTORS[0]!.seed);
});

/** Deterministic pseudo-random bytes, so a failure names a case that can be run again. */
function bytesOf(label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let block = 0; block * 32 < length; block++) createHash('sha256').update(`${label}/${block}`).digest().copy(out, block * 32);
  return out;
}

test('derivation equals @chainsafe/bls-hd-key on 200 seeded (seed, path) pairs', () => {
  const edgeIndices = [0, 1, 12381, 3600, 2 ** 31, 2 ** 32 - 1];
  for (let n = 0; n < 200; n++) {
    const random = bytesOf(`case ${n}`, 32);
    const seed = bytesOf(`seed ${n}`, 32 + (random[0]! % 33));
    const depth = 1 + (random[1]! % 3);
    const path = Array.from({ length: depth }, (_, i) => (random[2 + i]! < 64 ? edgeIndices[random[2 + i]! % edgeIndices.length]! : random.readUInt32BE(8 + 4 * i)));
    const expected = reference.deriveChildSKMultiple(reference.deriveMasterSK(seed), path);
    assert.equal(Buffer.from(deriveChildSKPath(deriveMasterSK(seed), path)), Buffer.from(expected), `case ${n}: seed ${seed.toString('hex')}, path ${path.join('/')}`);
  }
});

test('a path leaves its parent key as it was and returns a key of its own', () => {
  const parent = deriveMasterSK(bytesOf('parent', 32));
  const before = Buffer.from(parent);
  const child = deriveChildSKPath(parent, [7, 0]);
  assert.equal(Buffer.from(parent), before);
  assert.equal(Buffer.from(child), Buffer.from(deriveChildSK(deriveChildSK(parent, 7), 0)));
  const same = deriveChildSKPath(parent, []);
  assert.equal(Buffer.from(same), before);
  same.fill(0);
  assert.equal(Buffer.from(parent), before, 'the empty path returns a copy, which the caller may zero');
});

test('signing keys from the m/12381/3600 root key are the ones derived from the seed', () => {
  const seed = mnemonicToSeed('abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about');
  const rootKey = deriveValidatorRootKey(seed);
  assert.equal(Buffer.from(rootKey), Buffer.from(reference.deriveChildSKMultiple(reference.deriveMasterSK(seed), [12381, 3600])));
  for (const index of [0, 5, 2 ** 32 - 1]) {
    const fromRoot = deriveSigningKeyFromRoot(rootKey, index);
    const fromSeed = deriveSigningKey(seed, index);
    assert.equal(Buffer.from(fromRoot.privKey), Buffer.from(fromSeed.privKey));
    assert.equal(Buffer.from(fromRoot.pubKey), Buffer.from(fromSeed.pubKey));
    assert.is(fromRoot.path, `m/12381/3600/${index}/0/0`);
  }
});

test('bad input is refused with the reason: a short seed, an index outside 0..2^32-1, a parent key of the wrong size', () => {
  assert.throws(() => deriveMasterSK(new Uint8Array(31)), /at least 32 bytes, not 31/);
  const parent = deriveMasterSK(bytesOf('bad input', 32));
  for (const index of [-1, 2 ** 32, 1.5, Number.NaN]) assert.throws(() => deriveChildSK(parent, index), /child index .* is outside 0\.\.2\^32-1/);
  assert.throws(() => deriveChildSK(new Uint8Array(31), 0), /32 bytes, not 31/);
  assert.throws(() => deriveSigningKeyFromRoot(parent, 2 ** 32), /derivation index 4294967296 is outside/);
});

test.run();
