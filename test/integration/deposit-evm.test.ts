import { ListCompositeType } from '@chainsafe/ssz';
import { Wallet, parseEther } from 'ethers';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DepositSender } from '../../coordinator/deposits/deposit-sender.js';
import { DEPOSIT_GAS_LIMIT } from '../../coordinator/deposits/deposit-transaction.js';
import { DepositData, DepositError, bareHex, executionWithdrawalCredentials, prefixedHex, type SignedDeposit } from '../../shared/eth/deposit/index.js';
import { KNOWN_NETWORKS } from '../../shared/eth/networks.js';
import { TEST_WITHDRAWAL_ADDRESS, randomUnfundedKey, startTestChain, testDeposit, type ChainActivity, type TestChain } from '../support/evm.js';

/** The deposit root the beacon chain expects: hash_tree_root(List[DepositData, 2**32]). */
const DepositDataList = new ListCompositeType(DepositData, 2 ** 32);

let evm: TestChain;
/** Every deposit that reached the contract, in order, to recompute its root. */
const onChain: SignedDeposit[] = [];
let nextIndex = 0;

test.before(async () => {
  evm = await startTestChain();
});
test.after(async () => {
  await evm.close();
});

const fork = () => evm.chain.network.genesisForkVersion;
const freshDeposit = () => testDeposit(nextIndex++, fork());

async function depositAndConfirm(sender: DepositSender, deposits: SignedDeposit[]): Promise<string[]> {
  const signed = await sender.signDeposits({ deposits, firstNonce: await sender.pendingNonce(), depositsInLast24h: 0 });
  const hashes: string[] = [];
  for (const tx of signed) hashes.push(await sender.broadcast(tx.rawTx));
  for (const hash of hashes) assert.ok((await sender.confirmations(hash)) >= 1, `deposit ${hash} not mined`);
  onChain.push(...deposits);
  return hashes;
}

async function refusal(run: () => Promise<unknown>): Promise<DepositError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof DepositError) return error;
    throw error;
  }
  throw new Error('expected a DepositError, but it went through');
}

function sameActivity(after: ChainActivity, before: ChainActivity, what: string): void {
  assert.equal(after, before, `${what}: the chain changed`);
}

test('signing sends nothing; the broadcast deposit is accepted and its DepositEvent carries the deposit data', async () => {
  const sender = evm.sender();
  const deposit = freshDeposit();
  const before = await evm.activity();
  const [signed] = await sender.signDeposits({ deposits: [deposit], firstNonce: await sender.pendingNonce(), depositsInLast24h: 0 });
  sameActivity(await evm.activity(), before, 'after signing');

  const txHash = await sender.broadcast(signed!.rawTx);
  assert.is(txHash, signed!.txHash);
  assert.is(await sender.confirmations(txHash), 1);
  onChain.push(deposit);

  const events = await sender.findDepositEvents([bareHex(deposit.pubKey)], before.blockNumber);
  assert.is(events.length, 1);
  const [event] = events;
  assert.is(event!.pubKey, prefixedHex(deposit.pubKey));
  assert.is(event!.withdrawalCredentials, prefixedHex(deposit.withdrawalCredentials));
  assert.is(event!.amountGwei, 32_000_000_000);
  assert.is(event!.signature, prefixedHex(deposit.signature));
  assert.is(event!.depositDataRoot, prefixedHex(deposit.depositDataRoot));
  assert.is(event!.depositIndex, before.depositCount);
  assert.is(event!.txHash, txHash);

  const after = await evm.activity();
  assert.is(after.depositCount, before.depositCount + 1);
  assert.is(after.fundingNonce, before.fundingNonce + 1);
});

test("the contract's deposit root is hash_tree_root(List[DepositData, 2**32]) as deposits accumulate", async () => {
  const sender = evm.sender();
  for (let round = 0; round < 9; round++) {
    await depositAndConfirm(sender, [freshDeposit()]);
    const expected = prefixedHex(DepositDataList.hashTreeRoot(onChain.map((d) => ({ pubkey: d.pubKey, withdrawalCredentials: d.withdrawalCredentials, amount: d.amountGwei, signature: d.signature }))));
    const activity = await evm.activity();
    assert.is(activity.depositCount, onChain.length);
    assert.is(activity.depositRoot, expected, `root after ${onChain.length} deposits`);
  }
});

test('a wrong deposit_data_root reverts on chain and leaves the tree alone', async () => {
  const deposit = freshDeposit();
  const funder = new Wallet(evm.chain.fundingPrivKey, evm.provider);
  const before = await evm.activity();
  const wrongRoot = new Uint8Array(deposit.depositDataRoot);
  wrongRoot[0]! ^= 1;
  try {
    const tx = await evm.contract.connect(funder).getFunction('deposit')(deposit.pubKey, deposit.withdrawalCredentials, deposit.signature, wrongRoot, {
      value: parseEther('32'),
      gasLimit: DEPOSIT_GAS_LIMIT,
    });
    await tx.wait();
    assert.unreachable('a deposit with a wrong root went through');
  } catch (error) {
    assert.match(String((error as Error).message), /reconstructed DepositData does not match supplied deposit_data_root/);
  }
  const after = await evm.activity();
  assert.is(after.depositCount, before.depositCount);
  assert.is(after.depositRoot, before.depositRoot);
  assert.equal(await evm.sender().findDepositEvents([bareHex(deposit.pubKey)], before.blockNumber), []);
});

test('the contract checks lengths and amounts as the official one does', async () => {
  const deposit = freshDeposit();
  const call = (pubkey: Uint8Array, credentials: Uint8Array, signature: Uint8Array, value: bigint) =>
    evm.contract.getFunction('deposit').staticCall(pubkey, credentials, signature, deposit.depositDataRoot, { value, from: evm.chain.fundingAddress });
  // Each call starts only when awaited: a rejection left waiting would count as unhandled.
  const cases: [() => Promise<unknown>, RegExp][] = [
    [() => call(deposit.pubKey.subarray(1), deposit.withdrawalCredentials, deposit.signature, parseEther('32')), /invalid pubkey length/],
    [() => call(deposit.pubKey, deposit.withdrawalCredentials.subarray(1), deposit.signature, parseEther('32')), /invalid withdrawal_credentials length/],
    [() => call(deposit.pubKey, deposit.withdrawalCredentials, deposit.signature.subarray(1), parseEther('32')), /invalid signature length/],
    [() => call(deposit.pubKey, deposit.withdrawalCredentials, deposit.signature, parseEther('0.999999999')), /deposit value too low/],
    [() => call(deposit.pubKey, deposit.withdrawalCredentials, deposit.signature, parseEther('32') + 1n), /deposit value not multiple of gwei/],
  ];
  for (const [outcome, reason] of cases) {
    try {
      await outcome();
      assert.unreachable(`accepted; expected ${reason}`);
    } catch (error) {
      assert.match(String((error as Error).message), reason);
    }
  }
  // The same call with everything right passes: the refusals above are the checks, not a broken call.
  await call(deposit.pubKey, deposit.withdrawalCredentials, deposit.signature, parseEther('32'));
});

test('the same raw transaction broadcast twice makes one deposit (mined, then again while pooled)', async () => {
  const sender = evm.sender();
  for (const automine of [true, false]) {
    const deposit = freshDeposit();
    const before = await evm.activity();
    const [signed] = await sender.signDeposits({ deposits: [deposit], firstNonce: await sender.pendingNonce(), depositsInLast24h: 0 });
    await evm.provider.send('evm_setAutomine', [automine]);
    try {
      assert.is(await sender.broadcast(signed!.rawTx), signed!.txHash);
      assert.is(await sender.broadcast(signed!.rawTx), signed!.txHash, `second broadcast (automine ${automine})`);
      if (!automine) await evm.provider.send('evm_mine', []);
    } finally {
      await evm.provider.send('evm_setAutomine', [true]);
    }
    onChain.push(deposit);
    assert.is(await sender.confirmations(signed!.txHash), 1);
    assert.is((await sender.findDepositEvents([bareHex(deposit.pubKey)], before.blockNumber)).length, 1);
    assert.is((await evm.activity()).depositCount, before.depositCount + 1);
  }
});

test('a transaction whose nonce another transaction spent is reported as a conflict, not success', async () => {
  const sender = evm.sender();
  const nonce = await sender.pendingNonce();
  const winner = freshDeposit();
  const [first] = await sender.signDeposits({ deposits: [winner], firstNonce: nonce, depositsInLast24h: 0 });
  const loser = freshDeposit();
  const [second] = await sender.signDeposits({ deposits: [loser], firstNonce: nonce, depositsInLast24h: 0 });
  await sender.broadcast(first!.rawTx);
  onChain.push(winner);
  const error = await refusal(() => sender.broadcast(second!.rawTx));
  assert.is(error.code, 'DEPOSIT_NONCE_CONFLICT');
  assert.equal(await sender.findDepositEvents([bareHex(loser.pubKey)], 0), []);
});

test('confirmations count blocks on top; an unknown transaction has none', async () => {
  const sender = evm.sender();
  const [txHash] = await depositAndConfirm(sender, [freshDeposit()]);
  await evm.provider.send('hardhat_mine', ['0x3']);
  assert.is(await sender.confirmations(txHash!), 4);
  assert.is(await sender.confirmations('0x' + '11'.repeat(32)), 0);
});

test('a deposit signed for another fork version is refused before anything is sent', async () => {
  const before = await evm.activity();
  const mainnetDeposit = testDeposit(nextIndex++, KNOWN_NETWORKS.mainnet.genesisForkVersion);
  const error = await refusal(() => evm.sender().signDeposits({ deposits: [mainnetDeposit], firstNonce: before.fundingNonce, depositsInLast24h: 0 }));
  assert.is(error.code, 'DEPOSIT_WRONG_FORK');
  assert.match(error.message, /fork version 0x00000000.*0x10007a69/);
  sameActivity(await evm.activity(), before, 'wrong fork version');
});

test('an unfunded wallet is refused before anything is sent, and the message names no secret', async () => {
  const before = await evm.activity();
  const unfundedKey = randomUnfundedKey();
  const sender = evm.sender({ fundingPrivKey: unfundedKey });
  const error = await refusal(async () => sender.signDeposits({ deposits: [freshDeposit()], firstNonce: await sender.pendingNonce(), depositsInLast24h: 0 }));
  assert.is(error.code, 'DEPOSIT_INSUFFICIENT_FUNDS');
  assert.ok(error.message.includes(sender.fundingAddress));
  assert.not.ok(error.message.includes(unfundedKey.slice(2)));
  sameActivity(await evm.activity(), before, 'unfunded wallet');
  assert.is(await evm.provider.getTransactionCount(sender.fundingAddress, 'pending'), 0);
});

test('an endpoint on another chain id is refused before anything is sent', async () => {
  const before = await evm.activity();
  for (const network of [{ ...evm.chain.network, chainId: 1 }, KNOWN_NETWORKS.hoodi]) {
    const sender = evm.sender({ network });
    const error = await refusal(() => sender.signDeposits({ deposits: [freshDeposit()], firstNonce: before.fundingNonce, depositsInLast24h: 0 }));
    assert.is(error.code, 'DEPOSIT_WRONG_CHAIN');
    assert.match(error.message, /serves chain id 31337/);
  }
  const noContract = evm.sender({ network: { ...evm.chain.network, depositContractAddress: Wallet.createRandom().address } });
  const error = await refusal(() => noContract.signDeposits({ deposits: [freshDeposit()], firstNonce: before.fundingNonce, depositsInLast24h: 0 }));
  assert.is(error.code, 'DEPOSIT_WRONG_CHAIN');
  assert.match(error.message, /no contract/);
  sameActivity(await evm.activity(), before, 'wrong chain');
});

test('a malformed or unchecksummed withdrawal address is refused before a deposit exists', async () => {
  const before = await evm.activity();
  for (const address of [TEST_WITHDRAWAL_ADDRESS.toLowerCase(), TEST_WITHDRAWAL_ADDRESS.slice(0, 41), 'vitalik.eth']) {
    const error = await refusal(async () => executionWithdrawalCredentials(address, 0x01));
    assert.is(error.code, 'DEPOSIT_INPUT');
  }
  sameActivity(await evm.activity(), before, 'bad withdrawal address');
});

test('the daily cap refuses a batch that would exceed it, before anything is sent', async () => {
  const before = await evm.activity();
  const sender = evm.sender({ maxDepositsPerDay: 3 });
  const error = await refusal(() => sender.signDeposits({ deposits: [freshDeposit(), freshDeposit()], firstNonce: before.fundingNonce, depositsInLast24h: 2 }));
  assert.is(error.code, 'DEPOSIT_DAILY_CAP');
  assert.match(error.message, /4 in 24 hours, above the daily cap of 3/);
  sameActivity(await evm.activity(), before, 'daily cap');
});

test('a wallet that can pay for only some deposits of a batch signs none of them', async () => {
  const poorKey = randomUnfundedKey();
  const poor = new Wallet(poorKey);
  const funder = new Wallet(evm.chain.fundingPrivKey, evm.provider);
  await (await funder.sendTransaction({ to: poor.address, value: parseEther('40') })).wait();
  const before = await evm.activity();
  const error = await refusal(() => evm.sender({ fundingPrivKey: poorKey }).signDeposits({ deposits: [freshDeposit(), freshDeposit()], firstNonce: 0, depositsInLast24h: 0 }));
  assert.is(error.code, 'DEPOSIT_INSUFFICIENT_FUNDS');
  assert.match(error.message, /2 deposit\(s\)/);
  sameActivity(await evm.activity(), before, 'partly funded wallet');
});

test('an unreachable endpoint or a garbled transaction is a clear error that names no URL (it may hold an API key)', async () => {
  const sender = new DepositSender({ rpcUrl: 'http://127.0.0.1:1/v3/secret-project-id', fundingPrivKey: evm.chain.fundingPrivKey, network: evm.chain.network, maxDepositsPerDay: 10 });
  try {
    const error = await refusal(() => sender.signDeposits({ deposits: [freshDeposit()], firstNonce: 0, depositsInLast24h: 0 }));
    assert.is(error.code, 'DEPOSIT_RPC');
    assert.not.ok(error.message.includes('secret-project-id'), error.message);
    assert.is((await refusal(() => evm.sender().broadcast('0x02f8'))).code, 'DEPOSIT_INPUT');
  } finally {
    sender.close();
  }
});

test.run();
