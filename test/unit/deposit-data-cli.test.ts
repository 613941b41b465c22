import bls from '@chainsafe/bls';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { depositDataMain } from '../../cli/deposit-data.js';
import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import { tempDir } from '../support/temp-dir.js';

// The published staking-deposit-cli output for this mnemonic and address: see deposit-data.test.ts
// (Lighthouse's validator_manager/test_vectors, generated with ethstaker-deposit-cli 1.3.0).
const MNEMONIC = 'test test test test test test test test test test test waste';
const WITHDRAWAL_ADDRESS = '0x0f51bb10119727a7e5eA3538074fb341F56B09Ad';
const PASSWORD = 'correct horse battery staple';

// vectors/mainnet_first_0_count_2_prefix_0x01_eth1_true/validator_keys/deposit_data-1785211389.json, verbatim.
const MAINNET_0X01_FILE =
  '[{"pubkey": "88b6b3a9b391fa5593e8bce8d06102df1a56248368086929709fbb4a8570dc6a560febeef8159b19789e9c1fd13572f0", "withdrawal_credentials": "0100000000000000000000000f51bb10119727a7e5ea3538074fb341f56b09ad", "amount": 32000000000, "signature": "a8461b58a5a5a0573c4af37da6ee4ba63e35894cffad6797d4a2c80f8f2c79d2c30c0de0299d8edde76e0c3f3e6d4f1e03cc377969f56d8760717d6e86f9316da9375573ce7bb87a8520daedb13c49284377f7a4f64a70aa2ca44b1581d47e20", "deposit_message_root": "62967565d11471da4af7769911926cd1826124048036b25616216f99bc320f13", "deposit_data_root": "d26d642a880ff8a109260fe69681840f6e1868c8c1cd2163a1db5a094e8db03a", "fork_version": "00000000", "network_name": "mainnet", "deposit_cli_version": "1.3.0"}, {"pubkey": "a33ab9d93fb53c4f027944aaa11a13be0c150b7cc2e379d85d1ed4db38d178b4e4ebeae05832158b8c746c1961da00ce", "withdrawal_credentials": "0100000000000000000000000f51bb10119727a7e5ea3538074fb341f56b09ad", "amount": 32000000000, "signature": "93a398c09143203beb94c9223c7e18f36e5ea36090875284b222c2fcb16982e6f2e26f27ca9d30e3c6f6b5ad44857fc50f531925f4736810712f68a9d7a9c0eb664a851180f3b7d2e44a35717d43b3d3e4fd555354fa1dfa92f451870f36084d", "deposit_message_root": "ce110433298ffb78d827d67dcc13655344a139cb7e3ce10b341937c0a76b25b7", "deposit_data_root": "7c7617a2c11870ec49e975b3691b9f822d63938df38555161e23aa245b150c66", "fork_version": "00000000", "network_name": "mainnet", "deposit_cli_version": "1.3.0"}]';

// The second entry of vectors/hoodi_first_0_count_2_prefix_0x02_eth1_true (validator 1, compounding).
const HOODI_0X02_INDEX_1 = {
  pubkey: 'a33ab9d93fb53c4f027944aaa11a13be0c150b7cc2e379d85d1ed4db38d178b4e4ebeae05832158b8c746c1961da00ce',
  withdrawal_credentials: '0200000000000000000000000f51bb10119727a7e5ea3538074fb341f56b09ad',
  amount: 32000000000,
  signature: 'a259ba4494b36fa32e6ac0eb19effdbd5c20ad3398bc69f777375ae96dbded15ad66934f2a71400b94055d0d1759a7be15baa5d085500b07653f6192ae3c31d96619cdf886800f2cc2f0b1b85e8e1774cc85ca42abfc7f1386d4035675ecbbaa',
  deposit_message_root: '01f08b8ea18b1d32cee06660f5a2863286a1abc0ea92fc3bcb86552d8f296a13',
  deposit_data_root: '94ebfd542174f6d2d0427572aac83b9bd7548173fe299382c237a1e6b3f82ce6',
  fork_version: '10000910',
  network_name: 'hoodi',
  deposit_cli_version: '1.3.0',
};

interface CliRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the command in this process, capturing what it prints and the exit code it sets. */
async function runCli(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    await depositDataMain(argv);
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { exitCode, stdout: out.join(''), stderr: err.join('') };
}

async function fixture(mnemonic = MNEMONIC, password = PASSWORD) {
  const dir = await tempDir('deposit-data');
  const mnemonicFile = join(dir.path, 'mnemonic.txt');
  const passwordFile = join(dir.path, 'password.txt');
  await writeFile(mnemonicFile, mnemonic + '\n');
  await writeFile(passwordFile, password + '\n');
  return { ...dir, mnemonicFile, passwordFile, out: join(dir.path, 'out') };
}

test('writes the published deposit_data file byte for byte, and keystores named and encrypted as staking-deposit-cli does', async () => {
  const f = await fixture();
  try {
    const run = await runCli(['--mnemonic-file', f.mnemonicFile, '--count', '2', '--network', 'mainnet', '--withdrawal-address', WITHDRAWAL_ADDRESS, '--out', f.out, '--keystore-password-file', f.passwordFile, '--kdf', 'pbkdf2']);
    assert.is(run.exitCode, 0, run.stderr);
    const names = (await readdir(f.out)).sort();
    const timestamp = /^deposit_data-(\d+)\.json$/.exec(names[0]!)?.[1];
    assert.ok(timestamp, names.join(','));
    assert.equal(names, [`deposit_data-${timestamp}.json`, `keystore-m_12381_3600_0_0_0-${timestamp}.json`, `keystore-m_12381_3600_1_0_0-${timestamp}.json`]);
    assert.is(await readFile(join(f.out, names[0]!), 'utf8'), MAINNET_0X01_FILE);
    assert.equal(run.stdout.trim().split('\n').sort(), names.map((name) => join(f.out, name)).sort());

    const expectedPubkeys = (JSON.parse(MAINNET_0X01_FILE) as { pubkey: string }[]).map((entry) => entry.pubkey);
    for (const [i, name] of names.slice(1).entries()) {
      const path = join(f.out, name);
      assert.is((await stat(path)).mode & 0o777, 0o400, `${name} mode`);
      const keystore = parseKeystore(await readFile(path, 'utf8'));
      assert.is(keystore.path, `m/12381/3600/${i}/0/0`);
      assert.is(keystore.pubkey, expectedPubkeys[i]);
      const secret = await decryptKeystore(keystore, PASSWORD);
      assert.is(Buffer.from(bls.SecretKey.fromBytes(secret).toPublicKey().toBytes()).toString('hex'), expectedPubkeys[i]);
    }
    assert.match(run.stderr, /validator 2\/2/);
    assert.not.ok(run.stderr.includes('waste') || run.stdout.includes('waste'), 'the mnemonic was printed');
  } finally {
    await f.cleanup();
  }
});

test('--start, --compounding and another network give that network\'s 0x02 entry; no password file means no keystores', async () => {
  const f = await fixture();
  try {
    const run = await runCli(['--mnemonic-file', f.mnemonicFile, '--start', '1', '--count', '1', '--network', 'hoodi', '--withdrawal-address', WITHDRAWAL_ADDRESS, '--compounding', '--out', f.out]);
    assert.is(run.exitCode, 0, run.stderr);
    const names = await readdir(f.out);
    assert.is(names.length, 1, names.join(','));
    assert.match(names[0]!, /^deposit_data-\d+\.json$/);
    assert.equal(JSON.parse(await readFile(join(f.out, names[0]!), 'utf8')), [HOODI_0X02_INDEX_1]);
    assert.match(run.stderr, /no keystores/);
  } finally {
    await f.cleanup();
  }
});

test('bad input is refused with exit code 2 and nothing is written', async () => {
  const f = await fixture();
  const shortPassword = await fixture(MNEMONIC, 'short');
  const badMnemonic = await fixture(MNEMONIC.replace('waste', 'test'));
  try {
    const base = ['--count', '1', '--network', 'mainnet', '--out', f.out];
    const cases: [string[], RegExp][] = [
      [['--mnemonic-file', f.mnemonicFile, '--withdrawal-address', WITHDRAWAL_ADDRESS.toLowerCase(), ...base], /--withdrawal-address: .*not EIP-55 checksummed/],
      [['--mnemonic-file', f.mnemonicFile, '--withdrawal-address', WITHDRAWAL_ADDRESS.replace('eA35', 'ea35'), ...base], /fails its EIP-55 checksum/],
      [['--mnemonic-file', f.mnemonicFile, '--withdrawal-address', '0x1234', ...base], /not an execution address/],
      [['--mnemonic-file', f.mnemonicFile, '--withdrawal-address', WITHDRAWAL_ADDRESS, '--keystore-password-file', shortPassword.passwordFile, ...base], /shorter than 12 characters/],
      [['--mnemonic-file', badMnemonic.mnemonicFile, '--withdrawal-address', WITHDRAWAL_ADDRESS, ...base], /not a valid BIP39 mnemonic/],
      [['--mnemonic-file', f.mnemonicFile, '--withdrawal-address', WITHDRAWAL_ADDRESS, '--count', '1', '--network', 'goerli', '--out', f.out], /use one of mainnet, hoodi, holesky, sepolia/],
      [['--mnemonic-file', f.mnemonicFile, '--withdrawal-address', WITHDRAWAL_ADDRESS, '--start', '4294967295', '--count', '2', '--network', 'mainnet', '--out', f.out], /past the last derivation index/],
    ];
    for (const [argv, message] of cases) {
      const run = await runCli(argv);
      assert.is(run.exitCode, 2, `${argv.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.not.ok(run.stderr.includes('waste'), 'the mnemonic was printed');
      assert.not.ok(run.stderr.includes('short\n') || run.stderr.includes('"short"'), 'the password was printed');
      assert.is((await readdir(f.path)).includes('out'), false, `${argv.join(' ')} wrote files`);
    }
  } finally {
    await Promise.all([f.cleanup(), shortPassword.cleanup(), badMnemonic.cleanup()]);
  }
});

test.run();
