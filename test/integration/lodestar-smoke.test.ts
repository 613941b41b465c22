import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { blockProposers, headSlot, includedAttestations, type IncludedAttestation } from '../support/beacon-chain.js';
import { eventually } from '../support/coordinator-fixture.js';
import { interopPubkey } from '../support/interop-keys.js';
import { LODESTAR_MISSING, lodestarBinary, SLOTS_PER_EPOCH, startBeaconNode, startValidatorClient, type ValidatorClient } from '../support/lodestar.js';
import { publishedBlocks, signedAttestations } from '../support/lodestar-duties.js';
import { RecordingSigner } from '../support/recording-signer.js';
import { tempDir } from '../support/temp-dir.js';

const VALIDATORS = [0, 1, 2, 3, 4, 5, 6, 7];
const NAME = 'a real Lodestar 1.5.1 validator client signs every duty through a remote signer, and the chain includes its attestations';

if (!lodestarBinary()) {
  console.log(`skipped: ${LODESTAR_MISSING}`);
  test.skip(NAME, () => {});
} else {
  test(NAME, async () => {
    const dir = await tempDir('lodestar-smoke');
    const signer = await RecordingSigner.start({ validatorIndices: VALIDATORS });
    const started = Date.now();
    const beacon = await startBeaconNode({ dir: dir.path, validatorCount: VALIDATORS.length, params: { secondsPerSlot: 2 } });
    let client: ValidatorClient | undefined;
    try {
      const beaconUp = Date.now();
      client = await startValidatorClient({ dir: `${dir.path}/vc`, beaconNode: beacon, externalSigner: { url: signer.url, pubkeys: VALIDATORS.map(interopPubkey) } });
      const clientUp = Date.now();
      let firstOnChain: number | undefined;
      // Every validator attests once an epoch: within about an epoch and a half every one is on chain.
      const included = await eventually(
        async () => {
          const found = await includedAttestations(beacon.restUrl, 1, await headSlot(beacon.restUrl));
          if (found.length > 0) firstOnChain ??= Date.now();
          return VALIDATORS.every((v) => found.some((a) => a.validatorIndex === v)) ? found : undefined;
        },
        4 * SLOTS_PER_EPOCH * beacon.params.secondsPerSlot * 1000,
        'an included attestation from every validator',
      );
      const head = await headSlot(beacon.restUrl);
      await client.stop();
      console.log(
        `after start: beacon API ${beaconUp - started} ms, validator client ${clientUp - started} ms, first attestation on chain ` +
          `${firstOnChain! - started} ms, every validator's ${Date.now() - started} ms (head slot ${head}, genesis ${beacon.genesisTime * 1000 - started} ms)`,
      );

      const signed = signer.signRequests().filter((r) => r.status === 200);
      const signedFor = (type: string, pubkey: string, slot: number) =>
        signed.some((r) => r.body?.type === type && r.path.endsWith(pubkey) && Number(slotOf(r.body)) === slot);

      const unsigned = included.filter((a: IncludedAttestation) => !signedFor('ATTESTATION', interopPubkey(a.validatorIndex), a.slot));
      assert.equal(unsigned, [], 'every attestation on chain was signed through the remote signer');

      const proposers = await blockProposers(beacon.restUrl, 1, head);
      assert.ok(proposers.size > 0, 'the chain made blocks');
      for (const [slot, proposer] of proposers) {
        assert.ok(signedFor('BLOCK_V2', interopPubkey(proposer), slot), `the block of slot ${slot} was signed through the remote signer`);
        assert.ok(signedFor('RANDAO_REVEAL', interopPubkey(proposer), Math.floor(slot / SLOTS_PER_EPOCH)), `the randao reveal of slot ${slot} too`);
      }

      // The client's own logs agree with the chain and the signer.
      for (const attestation of signedAttestations(client.process.records)) {
        assert.ok(signedFor('ATTESTATION', interopPubkey(attestation.validatorIndex), attestation.slot), `logged attestation of ${attestation.validatorIndex} at slot ${attestation.slot}`);
      }
      const logged = new Map(publishedBlocks(client.process.records).map((b) => [b.slot, b.pubkey]));
      for (const [slot, proposer] of proposers) assert.is(logged.get(slot), interopPubkey(proposer), `the client logged publishing the block of slot ${slot}`);

      assert.ok(signed.every((r) => r.headers['authorization'] === undefined), 'Lodestar sends no credentials to its signer');
    } finally {
      await client?.stop();
      await beacon.stop();
      await signer.close();
      await dir.cleanup();
    }
  });
}

/** The slot (or, for a randao reveal, the epoch) a sign request is about. */
function slotOf(body: Record<string, any> | undefined): string | undefined {
  return body?.['attestation']?.slot ?? body?.['beacon_block']?.block_header?.slot ?? body?.['beacon_block']?.block?.slot ?? body?.['randao_reveal']?.epoch;
}

test.run();
