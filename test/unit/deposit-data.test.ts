import bls from '@chainsafe/bls';
import { deriveChildSKMultiple, deriveMasterSK } from '@chainsafe/bls-hd-key';
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deriveSigningKey, mnemonicToSeed } from '../../coordinator/keys/derive.js';
import {
  DepositError,
  FULL_DEPOSIT_GWEI,
  bareHex,
  computeDepositDomain,
  depositDataJson,
  executionWithdrawalCredentials,
  hexToBytes,
  signDeposit,
  verifyDeposit,
  type ExecutionWithdrawalPrefix,
  type SignedDeposit,
} from '../../shared/eth/deposit/index.js';
import { KNOWN_NETWORKS } from '../../shared/eth/networks.js';

/*
 * Published vectors: deposit_data files that staking-deposit-cli (ethstaker-deposit-cli 1.3.0) wrote for
 * the mnemonic below, committed by Lighthouse as its validator_manager test vectors
 * (github.com/sigp/lighthouse, validator_manager/test_vectors/generate.py and vectors/). The withdrawal
 * address is the one generate.py passes (0x0f51bb10119727a7e5ea3538074fb341f56b09ad), checksummed.
 */
const MNEMONIC = 'test test test test test test test test test test test waste';
const WITHDRAWAL_ADDRESS = '0x0f51bb10119727a7e5eA3538074fb341F56B09Ad';
const seed = mnemonicToSeed(MNEMONIC);

// vectors/mainnet_first_0_count_2_prefix_0x01_eth1_true/validator_keys/deposit_data-1785211389.json, verbatim.
const MAINNET_0X01_FILE =
  '[{"pubkey": "88b6b3a9b391fa5593e8bce8d06102df1a56248368086929709fbb4a8570dc6a560febeef8159b19789e9c1fd13572f0", "withdrawal_credentials": "0100000000000000000000000f51bb10119727a7e5ea3538074fb341f56b09ad", "amount": 32000000000, "signature": "a8461b58a5a5a0573c4af37da6ee4ba63e35894cffad6797d4a2c80f8f2c79d2c30c0de0299d8edde76e0c3f3e6d4f1e03cc377969f56d8760717d6e86f9316da9375573ce7bb87a8520daedb13c49284377f7a4f64a70aa2ca44b1581d47e20", "deposit_message_root": "62967565d11471da4af7769911926cd1826124048036b25616216f99bc320f13", "deposit_data_root": "d26d642a880ff8a109260fe69681840f6e1868c8c1cd2163a1db5a094e8db03a", "fork_version": "00000000", "network_name": "mainnet", "deposit_cli_version": "1.3.0"}, {"pubkey": "a33ab9d93fb53c4f027944aaa11a13be0c150b7cc2e379d85d1ed4db38d178b4e4ebeae05832158b8c746c1961da00ce", "withdrawal_credentials": "0100000000000000000000000f51bb10119727a7e5ea3538074fb341f56b09ad", "amount": 32000000000, "signature": "93a398c09143203beb94c9223c7e18f36e5ea36090875284b222c2fcb16982e6f2e26f27ca9d30e3c6f6b5ad44857fc50f531925f4736810712f68a9d7a9c0eb664a851180f3b7d2e44a35717d43b3d3e4fd555354fa1dfa92f451870f36084d", "deposit_message_root": "ce110433298ffb78d827d67dcc13655344a139cb7e3ce10b341937c0a76b25b7", "deposit_data_root": "7c7617a2c11870ec49e975b3691b9f822d63938df38555161e23aa245b150c66", "fork_version": "00000000", "network_name": "mainnet", "deposit_cli_version": "1.3.0"}]';

interface Vector {
  readonly source: string;
  readonly network: 'mainnet' | 'hoodi';
  readonly prefix: ExecutionWithdrawalPrefix;
  readonly index: number;
  readonly pubkey: string;
  readonly signature: string;
  readonly depositMessageRoot: string;
  readonly depositDataRoot: string;
}

const EXECUTION_VECTORS: Vector[] = [
  {
    source: 'mainnet_first_0_count_2_prefix_0x02_eth1_true', network: 'mainnet', prefix: 0x02, index: 0,
    pubkey: '88b6b3a9b391fa5593e8bce8d06102df1a56248368086929709fbb4a8570dc6a560febeef8159b19789e9c1fd13572f0',
    signature: '875a333c3043137d8964344ccfb20a84fbb7c47de4b8363fe32ff73a4dcd0c03aa11fc3f972760cd8e7b9c5e7a66c4f80963c6cfe63a3a5e02a26fa7c4c774d72c7c9cb3e872349ebf6bb63c2072519c943c583bd7cf44728345427707267a70',
    depositMessageRoot: 'aaf9657acb2afbf35942a2d9086564e48ef8a78b9697eed2810cf80de1452b40',
    depositDataRoot: '56abc02a8a4af5369cfb4a84b3596d279432cec74c30527dc56eb4fedc1b970c',
  },
  {
    source: 'mainnet_first_0_count_2_prefix_0x02_eth1_true', network: 'mainnet', prefix: 0x02, index: 1,
    pubkey: 'a33ab9d93fb53c4f027944aaa11a13be0c150b7cc2e379d85d1ed4db38d178b4e4ebeae05832158b8c746c1961da00ce',
    signature: 'abf79b824a0eff8c8af184a72192727dea69f66b752992e4488018ab27e57014c1ca2d7b1d9247a8a4bfbec2b5143f31122291b4515c1390a07c6ba88a1753d15e167a84b0e56424eb1b15c8c17487476c30e50ee7daef84227fd256a51fe0de',
    depositMessageRoot: '01f08b8ea18b1d32cee06660f5a2863286a1abc0ea92fc3bcb86552d8f296a13',
    depositDataRoot: '90af0130e754939ae22717cf959a35182280e8f97252bdecec9ccc901915504b',
  },
  {
    source: 'hoodi_first_0_count_2_prefix_0x01_eth1_true', network: 'hoodi', prefix: 0x01, index: 0,
    pubkey: '88b6b3a9b391fa5593e8bce8d06102df1a56248368086929709fbb4a8570dc6a560febeef8159b19789e9c1fd13572f0',
    signature: '95db3dcba68c61c0a934e1cb36bb093867d92fc5c62f2c9f45fbacef290bb491fa0589cf356680f61a7b0ba06b7e776311eb0e96841f053c05f7ee41d32731001f9def95078b2e8d293e1b6d38d1d231245def298c480861beee891a3b314743',
    depositMessageRoot: '62967565d11471da4af7769911926cd1826124048036b25616216f99bc320f13',
    depositDataRoot: '8224b6bcce0d2c0b34cca87ecb0bb0ff1e2c865ac6c5d6c0c3e5cd17affe45ad',
  },
  {
    source: 'hoodi_first_0_count_2_prefix_0x02_eth1_true', network: 'hoodi', prefix: 0x02, index: 1,
    pubkey: 'a33ab9d93fb53c4f027944aaa11a13be0c150b7cc2e379d85d1ed4db38d178b4e4ebeae05832158b8c746c1961da00ce',
    signature: 'a259ba4494b36fa32e6ac0eb19effdbd5c20ad3398bc69f777375ae96dbded15ad66934f2a71400b94055d0d1759a7be15baa5d085500b07653f6192ae3c31d96619cdf886800f2cc2f0b1b85e8e1774cc85ca42abfc7f1386d4035675ecbbaa',
    depositMessageRoot: '01f08b8ea18b1d32cee06660f5a2863286a1abc0ea92fc3bcb86552d8f296a13',
    depositDataRoot: '94ebfd542174f6d2d0427572aac83b9bd7548173fe299382c237a1e6b3f82ce6',
  },
];

// vectors/mainnet_first_1024_count_3_prefix_0x00_eth1_false: BLS (0x00) withdrawal credentials, i.e.
// 0x00 ‖ sha256(withdrawal pubkey)[1:], with the withdrawal key at m/12381/3600/i/0 (EIP-2334).
const BLS_CREDENTIAL_VECTORS = [
  {
    index: 1024,
    pubkey: '92ca8dddba4ae7ada6584c377fc53fb978ad9d5ee8db585b18e226c27682b326b3c68e10f5d99a453e233268c144e0ef',
    withdrawalCredentials: '00dd4f8bfd1a48be288c2af8bb7315f6198900b5b3f56df010420d5328e682cb',
    signature: 'a0a96851892b257c032284928641021e58e0bcd277c3da5a2c41bcce6633d144781e4761261138277b5a8cf0ead59cce073e5a3bbc4704a37abf8cd1e290dc52e56cb0c334303945ebbb79be453c8177937e44e08f980679f1a2997fe58d2d86',
    depositMessageRoot: '5421d9177b4d035e6525506509ab702c5f458c53458dad437097b37cb8209b43',
    depositDataRoot: '2bedaf48f8315d8631defc97c1c4c05a8152e2dc3fe779fc8e800dd67bd839a2',
  },
  {
    index: 1026,
    pubkey: '997e27aa262238beb01464434694a466321b5270297bdfdb944b65a3b6617b6ce2613628ac35a8f4cf2e9b4b55c46ef8',
    withdrawalCredentials: '0097fffee9cf9fd91a6fa89af90e73f1cb8b8a043e742afaeb2e57b83b0845fe',
    signature: 'a8b05626657ce5b1801e0824aaeb21de2e1a11bc16cad6100ac911bcb873aaf7e7282f1f8465df4aaea998a1a4e1645f075e7e65f8c6b8688b0162f86be2128541f91fc9feb628bcab3b4afec1f7aeccaba04aaa54dc17c738233d360f94b97e',
    depositMessageRoot: '187e177721bfdd8ea13cb52c8de2dead29164a0e093efb640457a0e6ac918191',
    depositDataRoot: '34ef32901d793cd9a0a3d93e7ee40e7be9abe6fb26f0b49a86b8ff29dc649930',
  },
];

function depositFor(index: number, network: 'mainnet' | 'hoodi', withdrawalCredentials: Uint8Array): SignedDeposit {
  const key = deriveSigningKey(seed, index);
  try {
    const genesisForkVersion = hexToBytes(KNOWN_NETWORKS[network].genesisForkVersion, 4, 'fork version');
    return signDeposit({ privKey: key.privKey, withdrawalCredentials, amountGwei: FULL_DEPOSIT_GWEI, genesisForkVersion });
  } finally {
    key.privKey.fill(0);
  }
}

test("mainnet's deposit domain is the published constant", () => {
  assert.is(bareHex(computeDepositDomain(new Uint8Array(4))), '03000000f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a9');
});

test('a different fork version gives a different deposit domain', () => {
  assert.is.not(bareHex(computeDepositDomain(hexToBytes('0x10000910', 4, 'v'))), bareHex(computeDepositDomain(new Uint8Array(4))));
});

test('the mainnet 0x01 deposit_data file is reproduced byte for byte', () => {
  const credentials = executionWithdrawalCredentials(WITHDRAWAL_ADDRESS, 0x01);
  const text = depositDataJson([depositFor(0, 'mainnet', credentials), depositFor(1, 'mainnet', credentials)], 'mainnet');
  assert.is(text, MAINNET_0X01_FILE);
});

for (const vector of EXECUTION_VECTORS) {
  test(`${vector.source} index ${vector.index}: pubkey, credentials, signature and roots match`, () => {
    const deposit = depositFor(vector.index, vector.network, executionWithdrawalCredentials(WITHDRAWAL_ADDRESS, vector.prefix));
    assert.is(bareHex(deposit.pubKey), vector.pubkey);
    assert.is(bareHex(deposit.withdrawalCredentials), `0${vector.prefix}00000000000000000000000f51bb10119727a7e5ea3538074fb341f56b09ad`);
    assert.is(bareHex(deposit.signature), vector.signature);
    assert.is(bareHex(deposit.depositMessageRoot), vector.depositMessageRoot);
    assert.is(bareHex(deposit.depositDataRoot), vector.depositDataRoot);
  });
}

for (const vector of BLS_CREDENTIAL_VECTORS) {
  test(`mainnet index ${vector.index} (BLS credentials): withdrawal key path, signature and roots match`, () => {
    const withdrawalPrivKey = deriveChildSKMultiple(deriveMasterSK(seed), [12381, 3600, vector.index, 0]);
    const withdrawalPubKey = bls.SecretKey.fromBytes(withdrawalPrivKey).toPublicKey().toBytes();
    const credentials = createHash('sha256').update(withdrawalPubKey).digest();
    credentials[0] = 0x00;
    assert.is(credentials.toString('hex'), vector.withdrawalCredentials);

    const deposit = depositFor(vector.index, 'mainnet', new Uint8Array(credentials));
    assert.is(bareHex(deposit.pubKey), vector.pubkey);
    assert.is(bareHex(deposit.signature), vector.signature);
    assert.is(bareHex(deposit.depositMessageRoot), vector.depositMessageRoot);
    assert.is(bareHex(deposit.depositDataRoot), vector.depositDataRoot);
  });
}

test('verifyDeposit accepts a deposit on its own network', () => {
  const deposit = depositFor(0, 'hoodi', executionWithdrawalCredentials(WITHDRAWAL_ADDRESS, 0x01));
  verifyDeposit(deposit, hexToBytes(KNOWN_NETWORKS.hoodi.genesisForkVersion, 4, 'v'));
});

function refusalCode(run: () => void): string {
  try {
    run();
  } catch (error) {
    assert.instance(error, DepositError);
    return (error as DepositError).code;
  }
  return 'accepted';
}

test('verifyDeposit refuses a deposit signed for another network', () => {
  const deposit = depositFor(0, 'hoodi', executionWithdrawalCredentials(WITHDRAWAL_ADDRESS, 0x01));
  assert.is(refusalCode(() => verifyDeposit(deposit, new Uint8Array(4))), 'DEPOSIT_WRONG_FORK');
  // The fork version field relabelled to mainnet: the signature still betrays the network it was made for.
  assert.is(refusalCode(() => verifyDeposit({ ...deposit, genesisForkVersion: new Uint8Array(4) }, new Uint8Array(4))), 'DEPOSIT_BAD_SIGNATURE');
});

test('verifyDeposit refuses altered fields and garbage signatures', () => {
  const deposit = depositFor(0, 'mainnet', executionWithdrawalCredentials(WITHDRAWAL_ADDRESS, 0x01));
  const fork = new Uint8Array(4);
  assert.is(refusalCode(() => verifyDeposit({ ...deposit, amountGwei: 1_000_000_000 }, fork)), 'DEPOSIT_ROOT_MISMATCH');
  const garbage = new Uint8Array(96).fill(7);
  assert.is(refusalCode(() => verifyDeposit({ ...deposit, signature: garbage }, fork)), 'DEPOSIT_ROOT_MISMATCH');
  const other = depositFor(1, 'mainnet', deposit.withdrawalCredentials);
  const swapped = { ...deposit, signature: other.signature, depositDataRoot: other.depositDataRoot };
  assert.is(refusalCode(() => verifyDeposit({ ...swapped, pubKey: deposit.pubKey }, fork)), 'DEPOSIT_ROOT_MISMATCH');
});

test('withdrawal addresses must be EIP-55 checksummed execution addresses, and not the zero address', () => {
  const lower = WITHDRAWAL_ADDRESS.toLowerCase();
  const typo = WITHDRAWAL_ADDRESS.replace('F56B', 'f56B');
  for (const [address, expected] of [
    [lower, /not EIP-55 checksummed/],
    [typo, /fails its EIP-55 checksum/],
    ['0x1234', /not an execution address/],
    [WITHDRAWAL_ADDRESS.slice(2), /not an execution address/],
    ['0x' + '0'.repeat(40), /zero address/],
  ] as const) {
    try {
      executionWithdrawalCredentials(address, 0x01);
      assert.unreachable(`accepted ${address}`);
    } catch (error) {
      assert.instance(error, DepositError);
      assert.is((error as DepositError).code, 'DEPOSIT_INPUT');
      assert.match((error as Error).message, expected);
      // The error must not hand out the checksummed spelling to copy.
      assert.not.ok((error as Error).message.includes(WITHDRAWAL_ADDRESS), (error as Error).message);
    }
  }
});

test.run();
