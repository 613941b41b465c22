import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignerError } from '../../agent/signer/errors.js';
import { InAgentSigner } from '../../agent/signer/in-agent-signer.js';
import { SignerKeyHolder } from '../../agent/signer/key-holder.js';
import type { GrantedKey } from '../../agent/key-holders.js';
import { encryptKeystore } from '../../shared/eth/keystore.js';
import { parseInterchange, watermarks } from '../../shared/eth/slashing-protection/index.js';
import { silentLogger } from '../../shared/log/logger.js';
import { interopPubkey, interopSecretKey } from '../support/interop-keys.js';
import { blockRequest, interchangeFor, manualClock, TEST_CHAIN } from '../support/signer-requests.js';
import { tempDir } from '../support/temp-dir.js';

const PASSWORD = 'correct horse battery staple';

async function granted(index: number, options: { password?: string; slashingProtection?: string } = {}): Promise<GrantedKey> {
  const pubKey = interopPubkey(index);
  const keystore = await encryptKeystore(PASSWORD, interopSecretKey(index), pubKey, `m/12381/3600/${index}/0/0`);
  return { pubKey, keystoreJson: JSON.stringify(keystore), keystorePassword: options.password ?? PASSWORD, slashingProtection: options.slashingProtection ?? '' };
}

async function holderWithSigner() {
  const dir = await tempDir('signer-holder');
  const clock = manualClock();
  const signer = new InAgentSigner({ clock, logger: silentLogger, stateDir: dir.path, ...TEST_CHAIN });
  return { signer, holder: new SignerKeyHolder(signer), clock, cleanup: async () => (await signer.close(), await dir.cleanup()) };
}

test('install opens the keystores off the event loop and gives the signer their keys with the pool protection; removeAll returns the watermarks', async () => {
  const { signer, holder, clock, cleanup } = await holderWithSigner();
  const keys = await Promise.all([0, 1, 2, 3].map((i) => granted(i, { slashingProtection: i === 1 ? interchangeFor(interopPubkey(1), 40, null) : '' })));
  let installed = false;
  const installing = holder.install(keys, { genesisValidatorsRoot: TEST_CHAIN.genesisValidatorsRoot, genesisForkVersion: TEST_CHAIN.genesisForkVersion }).then(() => (installed = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.not.ok(installed, 'a timer ran while the keystores were still being opened: the key derivations do not hold the event loop');
  await installing;
  assert.equal(signer.heldPubKeys(), keys.map((key) => key.pubKey));
  holder.setDeadline(clock.nowMs + 1_000);
  await signer.sign(interopPubkey(0), blockRequest(7));
  assert.is(((await signer.sign(interopPubkey(1), blockRequest(40)).catch((error: SignerError) => error)) as SignerError).code, 'SIGNER_SLASHABLE');
  assert.is(watermarks(parseInterchange(holder.currentProtection()!), interopPubkey(0)).maxBlockSlot, 7n);
  const { slashingProtection } = await holder.removeAll();
  const removed = parseInterchange(slashingProtection!);
  assert.is(watermarks(removed, interopPubkey(0)).maxBlockSlot, 7n);
  assert.is(watermarks(removed, interopPubkey(1)).maxBlockSlot, 40n);
  assert.equal(signer.heldPubKeys(), []);
  await cleanup();
});

test('a keystore that does not open names its key, never the password, and installs nothing', async () => {
  const { signer, holder, cleanup } = await holderWithSigner();
  await holder.install([await granted(0)]);
  const error = await holder.install([await granted(1), await granted(2, { password: 'wrong password' })]).catch((e: unknown) => e);
  assert.instance(error, SignerError);
  assert.is((error as SignerError).code, 'SIGNER_KEY');
  assert.match((error as SignerError).message, new RegExp(`the keystore of ${interopPubkey(2)} did not open: .*checksum mismatch`));
  assert.not.match((error as SignerError).message, 'wrong password');
  assert.equal(signer.heldPubKeys(), [interopPubkey(0)], 'the keys held before stay, none of the new ones is taken');
  await cleanup();
});

test('keys granted for another network are refused', async () => {
  const { signer, holder, cleanup } = await holderWithSigner();
  const error = await holder.install([await granted(0)], { genesisValidatorsRoot: '0x' + '42'.repeat(32), genesisForkVersion: TEST_CHAIN.genesisForkVersion }).catch((e: unknown) => e);
  assert.match((error as SignerError).message, /genesisValidatorsRoot 0x4242.*, but this signer signs for 0x270d/);
  assert.equal(signer.heldPubKeys(), []);
  await cleanup();
});

test.run();
