import bls from '@chainsafe/bls';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignerError } from '../../agent/signer/errors.js';
import { InAgentSigner } from '../../agent/signer/in-agent-signer.js';
import { checkProtection } from '../../agent/signer/protection.js';
import { typesFor } from '../../agent/signer/ssz-types.js';
import { parseSigningRequest } from '../../agent/signer/signing-request.js';
import { LOG_FILE, SNAPSHOT_FILE, WatermarkStore } from '../../agent/signer/watermark-store.js';
import { parseInterchange, watermarks } from '../../shared/eth/slashing-protection/index.js';
import { NO_WATERMARKS } from '../../shared/eth/slashing-protection/watermarks.js';
import { silentLogger } from '../../shared/log/logger.js';
import { attestationRequest, blockRequest, interchangeFor, interopKey, manualClock, randaoRequest, TEST_CHAIN } from '../support/signer-requests.js';
import { tempDir } from '../support/temp-dir.js';

const dirs: Array<() => Promise<void>> = [];
test.after(async () => {
  for (const cleanup of dirs) await cleanup();
});

async function stateDir(): Promise<string> {
  const dir = await tempDir('signer');
  dirs.push(dir.cleanup);
  return dir.path;
}

function newSigner(dir: string, clock = manualClock()): InAgentSigner {
  return new InAgentSigner({ clock, logger: silentLogger, stateDir: dir, ...TEST_CHAIN });
}

/** A signer holding interop keys `indices`, signing until far in the future. */
async function liveSigner(dir: string, indices: number[] = [0], clock = manualClock()): Promise<InAgentSigner> {
  const signer = newSigner(dir, clock);
  await signer.install(indices.map((i) => interopKey(i)));
  signer.setDeadline(clock.nowMs + 1_000_000);
  return signer;
}

async function refusal(promise: Promise<unknown>): Promise<SignerError> {
  try {
    await promise;
  } catch (error) {
    assert.instance(error, SignerError);
    return error as SignerError;
  }
  throw new Error('expected a SignerError, the request was signed');
}

const K0 = interopKey(0).pubKey;

function marksOf(protection: string | null, pubKey = K0) {
  assert.ok(protection, 'expected an interchange');
  return watermarks(parseInterchange(protection!), pubKey);
}

test('the minimal strategy: blocks strictly above the highest slot; attestations with source >= highest source, target > highest target, source <= target', () => {
  const marks = { maxBlockSlot: 10n, maxSourceEpoch: 4n, maxTargetEpoch: 6n };
  const cases: Array<[Parameters<typeof checkProtection>[1], boolean]> = [
    [{ kind: 'block', slot: 9n }, false],
    [{ kind: 'block', slot: 10n }, false],
    [{ kind: 'block', slot: 11n }, true],
    [{ kind: 'attestation', sourceEpoch: 3n, targetEpoch: 7n }, false],
    [{ kind: 'attestation', sourceEpoch: 4n, targetEpoch: 6n }, false],
    [{ kind: 'attestation', sourceEpoch: 5n, targetEpoch: 5n }, false],
    [{ kind: 'attestation', sourceEpoch: 8n, targetEpoch: 7n }, false],
    [{ kind: 'attestation', sourceEpoch: 4n, targetEpoch: 7n }, true],
    [{ kind: 'attestation', sourceEpoch: 7n, targetEpoch: 7n }, true],
  ];
  for (const [message, allowed] of cases) assert.is(checkProtection(marks, message).allowed, allowed, JSON.stringify(message, (_, v) => (typeof v === 'bigint' ? Number(v) : v)));
  assert.equal(checkProtection(marks, { kind: 'attestation', sourceEpoch: 5n, targetEpoch: 9n }), { allowed: true, raised: { maxBlockSlot: 10n, maxSourceEpoch: 5n, maxTargetEpoch: 9n } });
  assert.equal(checkProtection(NO_WATERMARKS, { kind: 'block', slot: 0n }), { allowed: true, raised: { ...NO_WATERMARKS, maxBlockSlot: 0n } });
  assert.is(checkProtection(NO_WATERMARKS, { kind: 'attestation', sourceEpoch: 2n, targetEpoch: 1n }).allowed, false);
});

test('a signature verifies against the key, over the signing root of the message', async () => {
  const signer = await liveSigner(await stateDir());
  const body = attestationRequest(1, 2);
  const signature = await signer.sign(K0, body);
  const network = { genesisValidatorsRoot: Buffer.from(TEST_CHAIN.genesisValidatorsRoot.slice(2), 'hex'), genesisForkVersion: Buffer.from('00000001', 'hex'), types: typesFor('minimal') };
  assert.ok(bls.verify(Buffer.from(K0.slice(2), 'hex'), parseSigningRequest(body, network).signingRoot, signature));
  await signer.close();
});

test('a second block at the same slot or an older one is refused (412 cause), a later one signs', async () => {
  const signer = await liveSigner(await stateDir());
  await signer.sign(K0, blockRequest(20));
  for (const slot of [20, 19]) {
    const error = await refusal(signer.sign(K0, blockRequest(slot, 'cd')));
    assert.is(error.code, 'SIGNER_SLASHABLE');
    assert.match(error.message, new RegExp(`slot ${slot} is not above the highest slot this key signed a block for \\(20\\)`));
  }
  await signer.sign(K0, blockRequest(21));
  const error = await refusal(signer.sign(K0, attestationRequest(3, 2)));
  assert.match(error.message, /source epoch 3 is after its target epoch 2/);
  await signer.sign(K0, attestationRequest(3, 5));
  assert.is((await refusal(signer.sign(K0, attestationRequest(2, 6)))).code, 'SIGNER_SLASHABLE', 'a surrounding vote');
  assert.is((await refusal(signer.sign(K0, attestationRequest(3, 5)))).code, 'SIGNER_SLASHABLE', 'a double vote');
  assert.equal(marksOf(signer.currentProtection()), { maxBlockSlot: 21n, maxSourceEpoch: 3n, maxTargetEpoch: 5n });
  await signer.close();
});

test('two concurrent requests for the same slot or target: exactly one is signed', async () => {
  const signer = await liveSigner(await stateDir());
  for (const [a, b] of [
    [blockRequest(30, 'aa'), blockRequest(30, 'bb')],
    [attestationRequest(1, 4), attestationRequest(2, 4)],
  ]) {
    const results = await Promise.allSettled([signer.sign(K0, a), signer.sign(K0, b)]);
    assert.equal(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
    assert.is((rejected.reason as SignerError).code, 'SIGNER_SLASHABLE');
  }
  await signer.close();
});

test('every watermark is in the state directory before the signature is returned; a new signer on the same directory refuses what the old one signed', async () => {
  const dir = await stateDir();
  const first = await liveSigner(dir, [0, 1]);
  await first.sign(K0, blockRequest(40));
  // The record is on disk when sign() resolves.
  assert.match(await readFile(join(dir, LOG_FILE), 'utf8'), new RegExp(`"k":"${K0}","b":"40"`));
  await first.sign(K0, attestationRequest(4, 5));
  await first.sign(interopKey(1).pubKey, blockRequest(41));
  await first.close();

  const second = await liveSigner(dir, [0, 1]);
  assert.is((await refusal(second.sign(K0, blockRequest(40, 'ee')))).code, 'SIGNER_SLASHABLE');
  assert.is((await refusal(second.sign(K0, attestationRequest(4, 5)))).code, 'SIGNER_SLASHABLE');
  assert.is((await refusal(second.sign(interopKey(1).pubKey, blockRequest(41, 'ee')))).code, 'SIGNER_SLASHABLE');
  assert.equal(marksOf(second.currentProtection()), { maxBlockSlot: 40n, maxSourceEpoch: 4n, maxTargetEpoch: 5n });
  await second.sign(K0, blockRequest(42));
  await second.close();
});

test("the pool's interchange seeds the watermarks, merged with the state directory's: the higher of each wins", async () => {
  const dir = await stateDir();
  const first = await liveSigner(dir);
  await first.sign(K0, blockRequest(200));
  await first.close();

  const signer = newSigner(dir);
  await signer.install([interopKey(0, interchangeFor(K0, 100, [7, 9]))]);
  signer.setDeadline(Number.MAX_SAFE_INTEGER);
  assert.equal(marksOf(signer.currentProtection()), { maxBlockSlot: 200n, maxSourceEpoch: 7n, maxTargetEpoch: 9n });
  assert.is((await refusal(signer.sign(K0, blockRequest(150)))).code, 'SIGNER_SLASHABLE', 'below the state directory');
  assert.is((await refusal(signer.sign(K0, attestationRequest(6, 10)))).code, 'SIGNER_SLASHABLE', 'below the pool source');
  assert.is((await refusal(signer.sign(K0, attestationRequest(7, 9)))).code, 'SIGNER_SLASHABLE', 'at the pool target');
  await signer.sign(K0, attestationRequest(7, 10));
  await signer.close();
});

test('a torn write at the end of the log is dropped; the records before it are kept, and the log grows on after it', async () => {
  const dir = await stateDir();
  const first = await liveSigner(dir);
  await first.sign(K0, blockRequest(50));
  await first.close();
  const logPath = join(dir, LOG_FILE);
  const whole = (await stat(logPath)).size;
  // A record cut off mid-write (no newline), as a crash during write() leaves it.
  await appendFile(logPath, `0123456789abcdef {"k":"${K0}","b":"9`);

  const second = await liveSigner(dir);
  assert.is((await stat(logPath)).size, whole, 'the torn tail was cut off');
  assert.is((await refusal(second.sign(K0, blockRequest(50, 'ee')))).code, 'SIGNER_SLASHABLE');
  await second.sign(K0, blockRequest(51));
  await second.close();
  // A whole line whose checksum does not match, at the end, is a torn write too.
  await appendFile(logPath, `0000000000000000 {"k":"${K0}","b":"99"}\n`);
  const third = await liveSigner(dir);
  assert.equal(marksOf(third.currentProtection()).maxBlockSlot, 51n);
  await third.close();
});

test('damage in the middle of the log, or an unreadable snapshot, stops the signer from taking keys: no watermark is silently forgotten', async () => {
  const dir = await stateDir();
  const first = await liveSigner(dir);
  await first.sign(K0, blockRequest(60));
  await first.sign(K0, blockRequest(61));
  await first.close();
  const logPath = join(dir, LOG_FILE);
  const lines = (await readFile(logPath, 'utf8')).split('\n');
  await writeFile(logPath, [lines[0]!.replace('"60"', '"6"'), ...lines.slice(1)].join('\n'));
  const error = await refusal(newSigner(dir).install([interopKey(0)]));
  assert.is(error.code, 'SIGNER_STATE');
  assert.match(error.message, /signer-watermarks\.log is damaged at line 1 with intact records after it/);

  const other = await stateDir();
  await writeFile(join(other, SNAPSHOT_FILE), '{"metadata":');
  const unreadable = await refusal(newSigner(other).install([interopKey(0)]));
  assert.is(unreadable.code, 'SIGNER_STATE');
  assert.match(unreadable.message, /signer-watermarks\.json is unreadable/);
});

test("a state directory of another chain is refused", async () => {
  const dir = await stateDir();
  await (await liveSigner(dir)).close();
  const signer = new InAgentSigner({ clock: manualClock(), logger: silentLogger, stateDir: dir, ...TEST_CHAIN, genesisValidatorsRoot: '0x' + '12'.repeat(32) });
  const error = await refusal(signer.install([interopKey(0)]));
  assert.is(error.code, 'SIGNER_STATE');
  assert.match(error.message, /is for the chain with genesis_validators_root 0x270d43e7.*, not 0x1212/);
});

test('a long log is folded into the snapshot; nothing is lost across the fold or a reopen', async () => {
  const dir = await stateDir();
  const marks = new Map<string, { maxBlockSlot: bigint | null; maxSourceEpoch: bigint | null; maxTargetEpoch: bigint | null }>();
  const { store } = await WatermarkStore.open({ dir, genesisValidatorsRoot: TEST_CHAIN.genesisValidatorsRoot, current: () => marks, logger: silentLogger, compactAtBytes: 2000 });
  const appends: Promise<void>[] = [];
  for (let slot = 1; slot <= 60; slot += 1) {
    marks.set(K0, { maxBlockSlot: BigInt(slot), maxSourceEpoch: null, maxTargetEpoch: null });
    appends.push(store.append(K0, { kind: 'block', slot: BigInt(slot) }));
  }
  await Promise.all(appends);
  await store.close();
  assert.ok((await stat(join(dir, LOG_FILE))).size < 2000, 'the log was folded');
  assert.ok(watermarks(parseInterchange(await readFile(join(dir, SNAPSHOT_FILE), 'utf8')), K0).maxBlockSlot !== null, 'the snapshot holds the folded records');
  const reopened = await WatermarkStore.open({ dir, genesisValidatorsRoot: TEST_CHAIN.genesisValidatorsRoot, current: () => new Map(), logger: silentLogger });
  assert.is(reopened.persisted.get(K0)!.maxBlockSlot, 60n);
  await reopened.store.close();
});

test('nothing is signed without a deadline, or at or after it; the clock is read at each request, and a refusal changes nothing', async () => {
  const clock = manualClock(5_000);
  const signer = newSigner(await stateDir(), clock);
  await signer.install([interopKey(0)]);
  assert.is((await refusal(signer.sign(K0, randaoRequest(1)))).code, 'SIGNER_FENCED', 'no deadline set yet');
  signer.setDeadline(6_000);
  await signer.sign(K0, randaoRequest(1));
  clock.nowMs = 6_000;
  const atDeadline = await refusal(signer.sign(K0, blockRequest(70)));
  assert.is(atDeadline.code, 'SIGNER_FENCED');
  assert.match(atDeadline.message, /fence deadline passed 0 ms ago/);
  assert.equal(marksOf(signer.currentProtection()).maxBlockSlot, null, 'the refused block raised nothing');
  signer.setDeadline(7_000);
  await signer.sign(K0, blockRequest(70));
  signer.setDeadline(null);
  assert.is((await refusal(signer.sign(K0, blockRequest(71)))).code, 'SIGNER_FENCED');
  await signer.close();
});

test('a deadline that passes while the watermark is being persisted withholds the signature; the watermark stays raised', async () => {
  const clock = manualClock(1_000);
  const signer = newSigner(await stateDir(), clock);
  await signer.install([interopKey(0)]);
  signer.setDeadline(2_000);
  const pending = signer.sign(K0, blockRequest(80));
  // sign() read the clock once, before signing; the second read comes after the write completes.
  assert.is(clock.reads, 1);
  clock.nowMs = 2_500;
  assert.is((await refusal(pending)).code, 'SIGNER_FENCED');
  signer.setDeadline(3_000);
  assert.is((await refusal(signer.sign(K0, blockRequest(80)))).code, 'SIGNER_SLASHABLE');
  await signer.close();
});

test('removeAll drops every key and returns the watermarks of all of them, with signatures still being persisted; it signs nothing until the next lease', async () => {
  const signer = await liveSigner(await stateDir(), [0, 1]);
  const K1 = interopKey(1).pubKey;
  await signer.sign(K1, attestationRequest(2, 3));
  const inFlight = signer.sign(K0, blockRequest(90));
  const { slashingProtection, pubKeys } = await signer.removeAll();
  assert.equal([...pubKeys].sort(), [K0, K1].sort());
  assert.equal(marksOf(slashingProtection), { maxBlockSlot: 90n, maxSourceEpoch: null, maxTargetEpoch: null });
  assert.equal(marksOf(slashingProtection, K1), { maxBlockSlot: null, maxSourceEpoch: 2n, maxTargetEpoch: 3n });
  assert.is((await refusal(inFlight)).code, 'SIGNER_FENCED', 'a signature not yet returned is withheld');
  assert.equal(signer.heldPubKeys(), []);
  assert.is(signer.currentProtection(), null);
  assert.is((await refusal(signer.sign(K0, blockRequest(91)))).code, 'SIGNER_UNKNOWN_KEY');
  assert.equal(await signer.removeAll(), { slashingProtection: null, pubKeys: [] });
  await signer.install([interopKey(0)]);
  assert.is((await refusal(signer.sign(K0, blockRequest(91)))).code, 'SIGNER_FENCED', 'the deadline went with the keys');
  await signer.close();
});

test('installing a key again while it signs does not withhold the signature', async () => {
  const signer = await liveSigner(await stateDir(), [0]);
  const pending = signer.sign(K0, blockRequest(95));
  await signer.install([interopKey(0), interopKey(1)]);
  assert.is((await pending).length, 96);
  await signer.close();
});

test('install holds exactly the keys given; a bad key or foreign protection changes nothing', async () => {
  const signer = await liveSigner(await stateDir(), [0, 1]);
  await signer.install([interopKey(1), interopKey(2)]);
  assert.equal(signer.heldPubKeys(), [interopKey(1).pubKey, interopKey(2).pubKey]);
  const wrongSecret = await refusal(signer.install([interopKey(3), { ...interopKey(4), secretKey: interopKey(5).secretKey }]));
  assert.is(wrongSecret.code, 'SIGNER_KEY');
  assert.match(wrongSecret.message, new RegExp(`the secret key given for ${interopKey(4).pubKey} belongs to another public key`));
  const foreign = await refusal(signer.install([interopKey(3, interchangeFor(interopKey(3).pubKey, 1, null, '0x' + '77'.repeat(32)))]));
  assert.match(foreign.message, /is for the chain with genesis_validators_root 0x7777/);
  const notAKey = await refusal(signer.install([{ ...interopKey(3), secretKey: new Uint8Array(32) }]));
  assert.match(notAKey.message, /is not a valid BLS secret key/);
  assert.equal(signer.heldPubKeys(), [interopKey(1).pubKey, interopKey(2).pubKey]);
  for (const error of [wrongSecret, foreign, notAKey]) assert.not.match(error.message, Buffer.from(interopKey(5).secretKey).toString('hex'));
  await signer.close();
});

test.run();
