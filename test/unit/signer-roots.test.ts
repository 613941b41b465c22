import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignerError } from '../../agent/signer/errors.js';
import type { PresetName } from '../../shared/eth/consensus-preset.js';
import { parseSigningRequest, type SigningRequest } from '../../agent/signer/signing-request.js';
import { typesFor } from '../../agent/signer/ssz-types.js';
import { signDeposit } from '../../shared/eth/deposit/index.js';
import { interopSecretKey, interopSign } from '../support/interop-keys.js';
import { hashTreeRoot, signingRootByHand, type Schema } from '../support/ssz-by-hand.js';

const GVR = '0x04700007fabc8282644aed6d1c7c9e21d38a03a0c4ba193f3afe428824b3a673';
const GENESIS_FORK = '0x00000001';

function parse(body: unknown, preset: PresetName = 'mainnet', chain: { gvr: string; genesisFork: string } = { gvr: GVR, genesisFork: GENESIS_FORK }): SigningRequest {
  const network = { genesisValidatorsRoot: Buffer.from(chain.gvr.slice(2), 'hex'), genesisForkVersion: Buffer.from(chain.genesisFork.slice(2), 'hex'), types: typesFor(preset) };
  return parseSigningRequest(body, network);
}

function rootHex(request: SigningRequest): string {
  return '0x' + Buffer.from(request.signingRoot).toString('hex');
}

function refusal(run: () => unknown): SignerError {
  try {
    run();
  } catch (error) {
    assert.instance(error, SignerError);
    return error as SignerError;
  }
  throw new Error('expected a SignerError, nothing was thrown');
}

// --- captured from a real Lodestar 1.5.1 (test/fixtures/remote-signer) ---------------------------

const FIXTURES = fileURLToPath(new URL('../fixtures/remote-signer/lodestar-1.5.1/', import.meta.url));
const fixtures = readdirSync(FIXTURES)
  .filter((name) => name.endsWith('.json'))
  .map((name) => ({ name, ...(JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as Fixture) }));

interface Fixture {
  chain: { preset: PresetName; genesisValidatorsRoot: string; forkVersions: { phase0: string } };
  validatorIndex: number;
  request: { body: { type: string; signingRoot: string } };
  expectedSignature: string;
}

test('every request a real Lodestar 1.5.1 sent gets the signing root Lodestar computed, and the interop key signs it to the signature recorded', () => {
  assert.ok(fixtures.length >= 30, `expected the captured fixtures, found ${fixtures.length}`);
  const types = new Set<string>();
  for (const fixture of fixtures) {
    const request = parse(fixture.request.body, fixture.chain.preset, { gvr: fixture.chain.genesisValidatorsRoot, genesisFork: fixture.chain.forkVersions.phase0 });
    assert.is(rootHex(request), fixture.request.body.signingRoot, fixture.name);
    assert.is(interopSign(fixture.validatorIndex, request.signingRoot), fixture.expectedSignature, fixture.name);
    types.add(fixture.request.body.type);
  }
  assert.equal([...types].sort(), [
    'AGGREGATE_AND_PROOF', 'AGGREGATION_SLOT', 'ATTESTATION', 'BLOCK_V2', 'RANDAO_REVEAL', 'SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF',
    'SYNC_COMMITTEE_MESSAGE', 'SYNC_COMMITTEE_SELECTION_PROOF', 'VALIDATOR_REGISTRATION', 'VOLUNTARY_EXIT',
  ]);
});

test('blocks and attestations are the slashable messages; their slot and epochs are what protection sees', () => {
  for (const fixture of fixtures) {
    const body = fixture.request.body as any;
    const request = parse(body, fixture.chain.preset, { gvr: fixture.chain.genesisValidatorsRoot, genesisFork: fixture.chain.forkVersions.phase0 });
    if (body.type === 'BLOCK_V2') {
      const block = body.beacon_block.block ?? body.beacon_block.block_header;
      assert.equal(request.slashable, { kind: 'block', slot: BigInt(block.slot) }, fixture.name);
    } else if (body.type === 'ATTESTATION') {
      assert.equal(request.slashable, { kind: 'attestation', sourceEpoch: BigInt(body.attestation.source.epoch), targetEpoch: BigInt(body.attestation.target.epoch) }, fixture.name);
    } else {
      assert.is(request.slashable, null, fixture.name);
    }
  }
});

// --- the remote signing API's published examples (signing/paths/sign.yaml) -------------------------

const FORK_INFO = { fork: { previous_version: '0x00000001', current_version: '0x00000001', epoch: '1' }, genesis_validators_root: GVR };
const ROOT_B2 = '0xb2eedb01adbd02c828d5eec09b4c70cbba12ffffba525ebf48aca33028e8ad89';
const ROOT_23 = '0x235bc3400c2839fd856a524871200bd5e362db615fc4565e1870ed9a2a936464';
const SIG_9005 =
  '0x9005ed0936f527d416609285b355fe6b9610d730c18b9d2f4942ba7d0eb95ba304ff46b6a2fb86f0c756bf09274db8e11399b7642f9fc5ae50b5bd9c1d87654277a19bfc3df78d36da16f44a48630d9550774a4ca9f3a5b55bbf33345ad2ec71';
const PUBKEY_8F = '0x8f82597c919c056571a05dfe83e6a7d32acf9ad8931be04d11384e95468cd68b40129864ae12745f774654bbac09b057';
const HEADER = {
  slot: '0',
  proposer_index: '4666673844721362956',
  parent_root: '0x367cbd40ac7318427aadb97345a91fa2e965daf3158d7f1846f1306305f41bef',
  state_root: '0xfd18cf40cc907a739be483f1ca0ee23ad65cdd3df23205eabc6d660a75d1f54e',
};

const API_EXAMPLES: Array<{ preset: PresetName; body: Record<string, unknown> }> = [
  {
    preset: 'mainnet',
    body: {
      type: 'ATTESTATION',
      signingRoot: '0x548c9a015f4c96cb8b1ddbbdfca85846f85bf9f344a434c140f378cdfb5341f0',
      fork_info: FORK_INFO,
      attestation: { slot: '32', index: '0', beacon_block_root: ROOT_B2, source: { epoch: '0', root: '0x' + '00'.repeat(32) }, target: { epoch: '0', root: ROOT_B2 } },
    },
  },
  { preset: 'mainnet', body: { type: 'AGGREGATION_SLOT', signingRoot: '0x1fb90dd6e8b2670e6949347bc4eaacd37f9b6cc6e42c559973e362c800e853b9', fork_info: FORK_INFO, aggregation_slot: { slot: '119' } } },
  { preset: 'mainnet', body: { type: 'RANDAO_REVEAL', signingRoot: '0x3d047c51a8b03630781dc4c5519c17f7de87174246ff2deed0f195c6c775f91e', fork_info: FORK_INFO, randao_reveal: { epoch: '3' } } },
  {
    preset: 'mainnet',
    body: { type: 'VOLUNTARY_EXIT', signingRoot: '0x38e9f1cfe7926ce5366b633b7fc7113129025737394002d2637faaeefc56913d', fork_info: FORK_INFO, voluntary_exit: { epoch: '119', validator_index: '0' } },
  },
  {
    preset: 'mainnet',
    body: { type: 'SYNC_COMMITTEE_MESSAGE', signingRoot: '0xa6f60df2817ea5b52eed1fefebbad746ef64c6249fc05c90c9e0f520cc75bb95', fork_info: FORK_INFO, sync_committee_message: { beacon_block_root: ROOT_23, slot: '0' } },
  },
  {
    preset: 'mainnet',
    body: {
      type: 'SYNC_COMMITTEE_SELECTION_PROOF',
      signingRoot: '0x50d85c783ab27c1eb3f3efa914b91cb93ffd677137b15c27ba5bb548306e6963',
      fork_info: FORK_INFO,
      sync_aggregator_selection_data: { slot: '0', subcommittee_index: '0' },
    },
  },
  {
    // The example's aggregation_bits is one byte: a minimal-preset contribution.
    preset: 'minimal',
    body: {
      type: 'SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF',
      signingRoot: '0xae94702468b584a3b1c422bc1b39cc523d9175ba3b9ac1cccb699c00507cc1a5',
      fork_info: FORK_INFO,
      contribution_and_proof: {
        aggregator_index: '11',
        selection_proof:
          '0x8f5c34de9e22ceaa7e8d165fc0553b32f02188539e89e2cc91e2eb9077645986550d872ee3403204ae5d554eae3cac12124e18d2324bccc814775316aaef352abc0450812b3ca9fde96ecafa911b3b8bfddca8db4027f08e29c22a9c370ad933',
        contribution: { slot: '0', beacon_block_root: ROOT_23, subcommittee_index: '1', aggregation_bits: '0x24', signature: SIG_9005 },
      },
    },
  },
  {
    preset: 'mainnet',
    body: {
      type: 'AGGREGATE_AND_PROOF',
      signingRoot: '0x8d777156899cb02e0e66217afd832886239752a59a393218f6c603bcf615b4f8',
      fork_info: FORK_INFO,
      aggregate_and_proof: {
        aggregator_index: '1',
        aggregate: {
          aggregation_bits: '0x00000101',
          data: {
            slot: '0',
            index: '0',
            beacon_block_root: '0x100814c335d0ced5014cfa9d2e375e6d9b4e197381f8ce8af0473200fdc917fd',
            source: { epoch: '0', root: '0x' + '00'.repeat(32) },
            target: { epoch: '0', root: '0x100814c335d0ced5014cfa9d2e375e6d9b4e197381f8ce8af0473200fdc917fd' },
          },
          signature:
            '0xa627242e4a5853708f4ebf923960fb8192f93f2233cd347e05239d86dd9fb66b721ceec1baeae6647f498c9126074f1101a87854d674b6eebc220fd8c3d8405bdfd8e286b707975d9e00a56ec6cbbf762f23607d490f0bbb16c3e0e483d51875',
        },
        selection_proof:
          '0xa63f73a03f1f42b1fd0a988b614d511eb346d0a91c809694ef76df5ae021f0f144d64e612d735bc8820950cf6f7f84cd0ae194bfe3d4242fe79688f83462e3f69d9d33de71aab0721b7dab9d6960875e5fdfd26b171a75fb51af822043820c47',
      },
    },
  },
  {
    preset: 'mainnet',
    body: {
      type: 'VALIDATOR_REGISTRATION',
      signingRoot: '0xe4d2b3dd1e23807b90af0b1768cc7de12d4353320adb486f1bdaeed6b67009ea',
      validator_registration: { fee_recipient: '0x6fdfab408c56b6105a76eff5c0435d09fc6ed7a9', gas_limit: '4658411424342975020', timestamp: '4663368873993027404', pubkey: PUBKEY_8F },
    },
  },
  {
    preset: 'mainnet',
    body: {
      type: 'DEPOSIT',
      signingRoot: '0x3a49cdd70862ee95fed10e7494a8caa16af1be2f53612fc74dad27260bb2d711',
      deposit: { pubkey: PUBKEY_8F, withdrawal_credentials: '0x39722cbbf8b91a4b9045c5e6175f1001eac32f7fcd5eccda5c6e62fc4e638508', amount: '32', genesis_fork_version: '0x00000001' },
    },
  },
  {
    preset: 'mainnet',
    body: {
      type: 'BLOCK_V2',
      signingRoot: '0x26d0ee0b6c2261cd6010112a024de4f3d2e1e9844d11d60b057fac344c745464',
      fork_info: FORK_INFO,
      beacon_block: { version: 'BELLATRIX', block_header: { ...HEADER, body_root: '0xe74b0fc13f19ae2077403afa03fdc155484f22d05d93eb084473951bb3a8d1ae' } },
    },
  },
  ...['CAPELLA', 'DENEB', 'ELECTRA'].map((version) => ({
    preset: 'mainnet' as const,
    body: {
      type: 'BLOCK_V2',
      signingRoot: '0xaa2e0c465c1a45d7b6637fcce4ad6ceb71fc12064b548078d619a411f0de8adc',
      fork_info: FORK_INFO,
      beacon_block: { version, block_header: { ...HEADER, body_root: '0xa759d8029a69d4fdd8b3996086e9722983977e4efc1f12f4098ea3d93e868a6b' } },
    },
  })),
];

test("the remote signing API's published examples get the signingRoot they publish", () => {
  for (const { preset, body } of API_EXAMPLES) assert.is(rootHex(parse(body, preset)), body['signingRoot'], `${body['type']}`);
});

test("a deposit is signed exactly as the project's deposit-data code signs it", () => {
  const withdrawalCredentials = Buffer.from('01' + '00'.repeat(11) + 'ab'.repeat(20), 'hex');
  const genesisForkVersion = Buffer.from('10000910', 'hex');
  const deposit = signDeposit({ privKey: interopSecretKey(3), withdrawalCredentials, amountGwei: 32_000_000_000, genesisForkVersion });
  const request = parse(
    {
      type: 'DEPOSIT',
      deposit: {
        pubkey: '0x' + Buffer.from(deposit.pubKey).toString('hex'),
        withdrawal_credentials: '0x' + withdrawalCredentials.toString('hex'),
        amount: '32000000000',
        genesis_fork_version: '0x10000910',
      },
    },
    'mainnet',
    { gvr: GVR, genesisFork: '0x10000910' },
  );
  assert.is(interopSign(3, request.signingRoot), '0x' + Buffer.from(deposit.signature).toString('hex'));
});

// --- roots computed independently (test/support/ssz-by-hand.ts) ----------------------------------

const uint64 = 'uint64' as const;
const bytes = (n: number): Schema => ({ bytes: n });
const fields = (...entries: Array<readonly [string, Schema]>): Schema => ({ fields: entries });
const Checkpoint = fields(['epoch', uint64], ['root', bytes(32)]);
const AttestationDataS = fields(['slot', uint64], ['index', uint64], ['beacon_block_root', bytes(32)], ['source', Checkpoint], ['target', Checkpoint]);
const HeaderS = fields(['slot', uint64], ['proposer_index', uint64], ['parent_root', bytes(32)], ['state_root', bytes(32)], ['body_root', bytes(32)]);

function bodySchemas(preset: PresetName) {
  const syncSize = preset === 'mainnet' ? 512 : 32;
  const maxWithdrawals = preset === 'mainnet' ? 16 : 4;
  const signedHeader = fields(['message', HeaderS], ['signature', bytes(96)]);
  const indexed = fields(['attesting_indices', { list: uint64, limit: 2048 }], ['data', AttestationDataS], ['signature', bytes(96)]);
  const phase0 = [
    ['randao_reveal', bytes(96)],
    ['eth1_data', fields(['deposit_root', bytes(32)], ['deposit_count', uint64], ['block_hash', bytes(32)])],
    ['graffiti', bytes(32)],
    ['proposer_slashings', { list: fields(['signed_header_1', signedHeader], ['signed_header_2', signedHeader]), limit: 16 }],
    ['attester_slashings', { list: fields(['attestation_1', indexed], ['attestation_2', indexed]), limit: 2 }],
    ['attestations', { list: fields(['aggregation_bits', { bitList: 2048 }], ['data', AttestationDataS], ['signature', bytes(96)]), limit: 128 }],
    [
      'deposits',
      {
        list: fields(['proof', { vector: bytes(32), length: 33 }], ['data', fields(['pubkey', bytes(48)], ['withdrawal_credentials', bytes(32)], ['amount', uint64], ['signature', bytes(96)])]),
        limit: 16,
      },
    ],
    ['voluntary_exits', { list: fields(['message', fields(['epoch', uint64], ['validator_index', uint64])], ['signature', bytes(96)]), limit: 16 }],
  ] as const;
  const altair = [...phase0, ['sync_aggregate', fields(['sync_committee_bits', { bitVector: syncSize }], ['sync_committee_signature', bytes(96)])]] as const;
  const payloadCommon = [
    ['parent_hash', bytes(32)], ['fee_recipient', bytes(20)], ['state_root', bytes(32)], ['receipts_root', bytes(32)], ['logs_bloom', bytes(256)],
    ['prev_randao', bytes(32)], ['block_number', uint64], ['gas_limit', uint64], ['gas_used', uint64], ['timestamp', uint64],
    ['extra_data', { byteList: 32 }], ['base_fee_per_gas', 'uint256'], ['block_hash', bytes(32)],
  ] as const;
  const transactions: Schema = { list: { byteList: 2 ** 30 }, limit: 2 ** 20 };
  const withdrawals: Schema = { list: fields(['index', uint64], ['validator_index', uint64], ['address', bytes(20)], ['amount', uint64]), limit: maxWithdrawals };
  const blsChanges: Schema = {
    list: fields(['message', fields(['validator_index', uint64], ['from_bls_pubkey', bytes(48)], ['to_execution_address', bytes(20)])], ['signature', bytes(96)]),
    limit: 16,
  };
  return {
    transactions,
    withdrawals,
    PHASE0: fields(...phase0),
    ALTAIR: fields(...altair),
    BELLATRIX: fields(...altair, ['execution_payload', fields(...payloadCommon, ['transactions', transactions])]),
    CAPELLA: fields(...altair, ['execution_payload', fields(...payloadCommon, ['transactions', transactions], ['withdrawals', withdrawals])], ['bls_to_execution_changes', blsChanges]),
  };
}

const h = (byte: string, n: number) => '0x' + byte.repeat(n);
const attestationData = (slot: string, source: string, target: string) => ({
  slot,
  index: '1',
  beacon_block_root: h('11', 32),
  source: { epoch: source, root: h('22', 32) },
  target: { epoch: target, root: h('33', 32) },
});
const header = (slot: string) => ({ slot, proposer_index: '7', parent_root: h('44', 32), state_root: h('55', 32), body_root: h('66', 32) });

function bodyOf(version: 'PHASE0' | 'ALTAIR' | 'BELLATRIX' | 'CAPELLA', preset: PresetName): Record<string, unknown> {
  const body: Record<string, unknown> = {
    randao_reveal: h('a1', 96),
    eth1_data: { deposit_root: h('a2', 32), deposit_count: '9007199254740993', block_hash: h('a3', 32) },
    graffiti: h('a4', 32),
    proposer_slashings: [{ signed_header_1: { message: header('5'), signature: h('b1', 96) }, signed_header_2: { message: header('5'), signature: h('b2', 96) } }],
    attester_slashings: [
      {
        attestation_1: { attesting_indices: ['1', '2', '18446744073709551615'], data: attestationData('9', '1', '2'), signature: h('c1', 96) },
        attestation_2: { attesting_indices: ['1'], data: attestationData('10', '0', '3'), signature: h('c2', 96) },
      },
    ],
    // Bitlists of 3, 8 and 2048 bits: the delimiter in the first byte, alone in a byte, and at the limit.
    attestations: ['0x0d', '0xff01', '0x' + 'ff'.repeat(256) + '01'].map((bits, i) => ({ aggregation_bits: bits, data: attestationData(String(30 + i), '3', '4'), signature: h('d1', 96) })),
    deposits: [{ proof: Array.from({ length: 33 }, (_, i) => '0x' + i.toString(16).padStart(2, '0').repeat(32)), data: { pubkey: h('e1', 48), withdrawal_credentials: h('e2', 32), amount: '32000000000', signature: h('e3', 96) } }],
    voluntary_exits: [{ message: { epoch: '12', validator_index: '13' }, signature: h('f1', 96) }],
  };
  if (version === 'PHASE0') return body;
  body['sync_aggregate'] = { sync_committee_bits: '0x' + '5a'.repeat(preset === 'mainnet' ? 64 : 4), sync_committee_signature: h('f2', 96) };
  if (version === 'ALTAIR') return body;
  const payload: Record<string, unknown> = {
    parent_hash: h('01', 32), fee_recipient: h('02', 20), state_root: h('03', 32), receipts_root: h('04', 32), logs_bloom: h('05', 256),
    prev_randao: h('06', 32), block_number: '100', gas_limit: '30000000', gas_used: '21000', timestamp: '1700000000',
    extra_data: '0x010203', base_fee_per_gas: '115792089237316195423570985008687907853269984665640564039457584007913129639935', block_hash: h('07', 32),
    transactions: ['0x02f8', '0x' + 'ee'.repeat(100)],
  };
  body['execution_payload'] = payload;
  if (version === 'BELLATRIX') return body;
  payload['withdrawals'] = [{ index: '1', validator_index: '2', address: h('08', 20), amount: '3' }, { index: '2', validator_index: '5', address: h('09', 20), amount: '7' }];
  body['bls_to_execution_changes'] = [{ message: { validator_index: '4', from_bls_pubkey: h('0a', 48), to_execution_address: h('0b', 20) }, signature: h('0c', 96) }];
  return body;
}

/** The same body with the execution payload replaced by its header (transactions and withdrawals by their roots). */
function blinded(body: Record<string, unknown>, preset: PresetName): Record<string, unknown> {
  const { execution_payload: payload, ...rest } = body as { execution_payload: Record<string, unknown> };
  const { transactions, withdrawals, ...payloadRest } = payload;
  const schemas = bodySchemas(preset);
  const payloadHeader: Record<string, unknown> = { ...payloadRest, transactions_root: '0x' + hashTreeRoot(schemas.transactions, transactions).toString('hex') };
  if (withdrawals) payloadHeader['withdrawals_root'] = '0x' + hashTreeRoot(schemas.withdrawals, withdrawals).toString('hex');
  return { ...rest, execution_payload_header: payloadHeader };
}

const NET_FORK = { previous_version: '0x01000001', current_version: '0x02000001', epoch: '5' };
const netForkInfo = { fork: NET_FORK, genesis_validators_root: GVR };

for (const preset of ['mainnet', 'minimal'] as const) {
  for (const version of ['PHASE0', 'ALTAIR', 'BELLATRIX', 'CAPELLA'] as const) {
    test(`a full ${version} block (${preset} preset) has the root of its body computed independently, in its full, blinded and header forms`, () => {
      const slotsPerEpoch = preset === 'mainnet' ? 32 : 8;
      const body = bodyOf(version, preset);
      const block = { slot: String(5 * slotsPerEpoch), proposer_index: '3', parent_root: h('77', 32), state_root: h('88', 32), body };
      const bodyRoot = hashTreeRoot(bodySchemas(preset)[version], body);
      const expected = signingRootByHand(hashTreeRoot(HeaderS, { ...block, body_root: '0x' + bodyRoot.toString('hex') }), '00000000', NET_FORK.current_version, GVR);
      const full = parse({ type: 'BLOCK_V2', fork_info: netForkInfo, beacon_block: { version, block } }, preset);
      assert.is(rootHex(full), expected);
      assert.equal(full.slashable, { kind: 'block', slot: BigInt(block.slot) });
      const asHeader = { slot: block.slot, proposer_index: block.proposer_index, parent_root: block.parent_root, state_root: block.state_root, body_root: '0x' + bodyRoot.toString('hex') };
      assert.is(rootHex(parse({ type: 'BLOCK_V2', fork_info: netForkInfo, beacon_block: { version, block_header: asHeader } }, preset)), expected);
      if (version === 'PHASE0') assert.is(rootHex(parse({ type: 'BLOCK', fork_info: netForkInfo, block }, preset)), expected, 'the deprecated BLOCK form');
      if (version === 'BELLATRIX' || version === 'CAPELLA') {
        assert.is(rootHex(parse({ type: 'BLOCK_V2', fork_info: netForkInfo, beacon_block: { version, block: { ...block, body: blinded(body, preset) } } }, preset)), expected, 'blinded');
      }
    });
  }
}

test('a block one slot before the fork epoch is signed under the previous fork version, at the fork epoch under the current one', () => {
  for (const [slot, version] of [['39', NET_FORK.previous_version], ['40', NET_FORK.current_version]] as const) {
    const blockHeader = header(slot);
    const expected = signingRootByHand(hashTreeRoot(HeaderS, blockHeader), '00000000', version, GVR);
    assert.is(rootHex(parse({ type: 'BLOCK_V2', fork_info: netForkInfo, beacon_block: { version: 'DENEB', block_header: blockHeader } }, 'minimal')), expected, `slot ${slot}`);
  }
});

test('every other message type has the root computed independently, under the domain and fork version the specs give it', () => {
  const S = (value: string) => ({ slot: value });
  const aggregate = { aggregation_bits: '0x0d', data: attestationData('41', '4', '5'), signature: h('d1', 96) };
  const electraAggregate = { ...aggregate, aggregation_bits: '0x' + '00'.repeat(20) + '01', committee_bits: '0x05' };
  const contribution = { slot: '42', beacon_block_root: h('12', 32), subcommittee_index: '2', aggregation_bits: '0x81', signature: h('13', 96) };
  const aggregateS = fields(['aggregation_bits', { bitList: 2048 }], ['data', AttestationDataS], ['signature', bytes(96)]);
  const electraS = fields(['aggregation_bits', { bitList: 2048 * 4 }], ['data', AttestationDataS], ['signature', bytes(96)], ['committee_bits', { bitVector: 4 }]);
  const registration = { fee_recipient: h('14', 20), gas_limit: '30000000', timestamp: '1700000000', pubkey: h('15', 48) };
  // Minimal preset: slot 41 is in epoch 5 (the fork epoch), slot 39 in epoch 4 (before it).
  const cases: Array<[string, Record<string, unknown>, Buffer, string, string]> = [
    ['ATTESTATION', { attestation: attestationData('41', '3', '4') }, hashTreeRoot(AttestationDataS, attestationData('41', '3', '4')), '01000000', NET_FORK.previous_version],
    ['ATTESTATION', { attestation: attestationData('41', '4', '5') }, hashTreeRoot(AttestationDataS, attestationData('41', '4', '5')), '01000000', NET_FORK.current_version],
    ['AGGREGATION_SLOT', { aggregation_slot: S('39') }, hashTreeRoot(uint64, '39'), '05000000', NET_FORK.previous_version],
    ['AGGREGATE_AND_PROOF', { aggregate_and_proof: { aggregator_index: '6', aggregate, selection_proof: h('16', 96) } },
      hashTreeRoot(fields(['aggregator_index', uint64], ['aggregate', aggregateS], ['selection_proof', bytes(96)]), { aggregator_index: '6', aggregate, selection_proof: h('16', 96) }), '06000000', NET_FORK.current_version],
    ['AGGREGATE_AND_PROOF_V2', { aggregate_and_proof: { version: 'ELECTRA', data: { aggregator_index: '6', aggregate: electraAggregate, selection_proof: h('16', 96) } } },
      hashTreeRoot(fields(['aggregator_index', uint64], ['aggregate', electraS], ['selection_proof', bytes(96)]), { aggregator_index: '6', aggregate: electraAggregate, selection_proof: h('16', 96) }), '06000000', NET_FORK.current_version],
    ['RANDAO_REVEAL', { randao_reveal: { epoch: '4' } }, hashTreeRoot(uint64, '4'), '02000000', NET_FORK.previous_version],
    ['VOLUNTARY_EXIT', { voluntary_exit: { epoch: '5', validator_index: '9' } }, hashTreeRoot(fields(['epoch', uint64], ['validator_index', uint64]), { epoch: '5', validator_index: '9' }), '04000000', NET_FORK.current_version],
    ['SYNC_COMMITTEE_MESSAGE', { sync_committee_message: { beacon_block_root: h('17', 32), slot: '39' } }, hashTreeRoot(bytes(32), h('17', 32)), '07000000', NET_FORK.previous_version],
    ['SYNC_COMMITTEE_SELECTION_PROOF', { sync_aggregator_selection_data: { slot: '40', subcommittee_index: '3' } },
      hashTreeRoot(fields(['slot', uint64], ['subcommittee_index', uint64]), { slot: '40', subcommittee_index: '3' }), '08000000', NET_FORK.current_version],
    ['SYNC_COMMITTEE_CONTRIBUTION_AND_PROOF', { contribution_and_proof: { aggregator_index: '8', contribution, selection_proof: h('18', 96) } },
      hashTreeRoot(
        fields(['aggregator_index', uint64], ['contribution', fields(['slot', uint64], ['beacon_block_root', bytes(32)], ['subcommittee_index', uint64], ['aggregation_bits', { bitVector: 8 }], ['signature', bytes(96)])], ['selection_proof', bytes(96)]),
        { aggregator_index: '8', contribution, selection_proof: h('18', 96) },
      ), '09000000', NET_FORK.current_version],
  ];
  for (const [type, message, objectRoot, domainType, forkVersion] of cases) {
    const request = parse({ type, fork_info: netForkInfo, ...message }, 'minimal');
    assert.is(rootHex(request), signingRootByHand(objectRoot, domainType, forkVersion, GVR), `${type} ${JSON.stringify(message).slice(0, 60)}`);
  }
  // Builder registrations: genesis fork version and a zero validators root, whatever the chain.
  const registrationRoot = hashTreeRoot(fields(['fee_recipient', bytes(20)], ['gas_limit', uint64], ['timestamp', uint64], ['pubkey', bytes(48)]), registration);
  assert.is(rootHex(parse({ type: 'VALIDATOR_REGISTRATION', validator_registration: registration })), signingRootByHand(registrationRoot, '00000001', GENESIS_FORK, h('00', 32)));
});

test('signingRoot and signing_root are both read; a request without one is still computed', () => {
  const body = API_EXAMPLES[0]!.body;
  const { signingRoot, ...withoutRoot } = body;
  assert.is('0x' + Buffer.from(parse(body).claimedRoot!).toString('hex'), signingRoot);
  assert.is('0x' + Buffer.from(parse({ ...withoutRoot, signing_root: signingRoot }).claimedRoot!).toString('hex'), signingRoot);
  const bare = parse(withoutRoot);
  assert.is(bare.claimedRoot, null);
  assert.is(rootHex(bare), signingRoot);
});

test('malformed requests are refused with an error naming the field', () => {
  const attestation = API_EXAMPLES[0]!.body as any;
  const cases: Array<[unknown, RegExp]> = [
    ['not an object', /request body must be a JSON object/],
    [{ ...attestation, type: undefined }, /^type must be a string, not missing/],
    [{ ...attestation, type: 'BLS_TO_EXECUTION_CHANGE' }, /type "BLS_TO_EXECUTION_CHANGE" is not a message type of the remote signing API: use one of .*ATTESTATION/],
    [{ ...attestation, fork_info: undefined }, /^fork_info must be a JSON object, not missing/],
    [{ ...attestation, fork_info: { ...FORK_INFO, genesis_validators_root: h('99', 32) } }, /fork_info\.genesis_validators_root 0x9999.* is not this network's/],
    [{ ...attestation, fork_info: { ...FORK_INFO, fork: { ...FORK_INFO.fork, epoch: 1 } } }, /^fork_info\.fork\.epoch must be a decimal string \(uint64\), not the number 1/],
    [{ ...attestation, fork_info: { ...FORK_INFO, fork: { ...FORK_INFO.fork, previousVersion: '0x00000001', previous_version: undefined } } }, /^fork_info\.fork\.previous_version must be 0x-prefixed hex, not missing/],
    [{ ...attestation, attestation: { ...attestation.attestation, slot: '18446744073709551616' } }, /^attestation\.slot 18446744073709551616 does not fit in a uint64/],
    [{ ...attestation, attestation: { ...attestation.attestation, target: { epoch: '0', root: '0x1234' } } }, /^attestation\.target\.root has 2 bytes; exactly 32 are required/],
    [{ ...attestation, attestation: { ...attestation.attestation, source: { epoch: '-1', root: h('00', 32) } } }, /^attestation\.source\.epoch must be a decimal string/],
    [{ ...attestation, signingRoot: 'abc' }, /^signingRoot must be 0x-prefixed hex/],
    [{ ...attestation, signing_root: h('00', 32) }, /signingRoot and signing_root differ/],
    [{ type: 'AGGREGATE_AND_PROOF', fork_info: FORK_INFO, aggregate_and_proof: { aggregator_index: '1', aggregate: { aggregation_bits: '0x00', data: attestationData('1', '0', '0'), signature: h('01', 96) }, selection_proof: h('01', 96) } },
      /^aggregate_and_proof\.aggregate\.aggregation_bits is not a valid SSZ bitlist of at most 2048 bits/],
    [{ type: 'AGGREGATE_AND_PROOF', fork_info: FORK_INFO, aggregate_and_proof: { aggregator_index: '1', aggregate: { aggregation_bits: '0x' + 'ff'.repeat(256) + '02', data: attestationData('1', '0', '0'), signature: h('01', 96) }, selection_proof: h('01', 96) } },
      /^aggregate_and_proof\.aggregate\.aggregation_bits is not a valid SSZ bitlist of at most 2048 bits \(it holds 2049 bits, over the limit of 2048\)$/],
    [{ type: 'BLOCK_V2', fork_info: FORK_INFO, beacon_block: { version: 'DENEB', block: {} } }, /beacon_block\.block: full DENEB blocks are not supported; send the block as beacon_block\.block_header/],
    [{ type: 'BLOCK_V2', fork_info: FORK_INFO, beacon_block: { version: 'GLOAS', block_header: header('1') } }, /^beacon_block\.version "GLOAS" is not one of PHASE0, .*FULU/],
    [{ type: 'BLOCK_V2', fork_info: FORK_INFO, beacon_block: { version: 'ALTAIR', block: header('1'), block_header: header('1') } }, /beacon_block has both block and block_header/],
    [{ type: 'BLOCK_V2', fork_info: FORK_INFO, beacon_block: { version: 'PHASE0', block: { ...header('1'), body: { ...bodyOf('PHASE0', 'mainnet'), deposits: Array(17).fill(bodyOf('PHASE0', 'mainnet')['deposits']![0 as never]) } } } },
      /^beacon_block\.block\.body\.deposits has 17 entries; at most 16 are allowed/],
    [{ type: 'BLOCK_V2', fork_info: FORK_INFO, beacon_block: { version: 'PHASE0', block: { ...header('1'), body: { ...bodyOf('PHASE0', 'mainnet'), attestations: [{}] } } } },
      /^beacon_block\.block\.body\.attestations\[0\]\.aggregation_bits must be 0x-prefixed hex, not missing/],
    [{ ...(API_EXAMPLES.find((e) => e.body['type'] === 'DEPOSIT')!.body as object), deposit: { ...(API_EXAMPLES.find((e) => e.body['type'] === 'DEPOSIT')!.body as any).deposit, genesis_fork_version: '0x00000000' } },
      /^deposit\.genesis_fork_version 0x00000000 is not this network's genesis fork version 0x00000001/],
  ];
  for (const [body, message] of cases) {
    const error = refusal(() => parse(body));
    assert.is(error.code, 'SIGNER_REQUEST', String(message));
    assert.match(error.message, message);
  }
});

test.run();
