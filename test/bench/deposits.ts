/**
 * Deposits per minute on the in-process local chain (EDR, automine): deposit data prepared beforehand,
 * then signed, broadcast and confirmed through DepositSender over JSON-RPC on loopback.
 * Usage: npx tsx test/bench/deposits.ts [--deposits N]
 */
import type { SignedDeposit } from '../../shared/eth/deposit/index.js';
import { startTestChain, testDeposit } from '../support/evm.js';
import { benchNumber } from './bench-options.js';

const count = benchNumber('deposits', 200);

const evm = await startTestChain();
try {
  const sender = evm.sender();
  const prepared = performance.now();
  const deposits: SignedDeposit[] = Array.from({ length: 2 * count }, (_, index) => testDeposit(index, evm.chain.network.genesisForkVersion));
  const prepareSeconds = (performance.now() - prepared) / 1000;
  console.log(`deposit data for ${2 * count} keys (derive + BLS sign): ${((2 * count) / prepareSeconds * 60).toFixed(0)}/min`);

  // One at a time, as a claim that needs one new key would: sign, broadcast, wait for the receipt.
  let started = performance.now();
  for (const deposit of deposits.slice(0, count)) {
    const [signed] = await sender.signDeposits({ deposits: [deposit], firstNonce: await sender.pendingNonce(), depositsInLast24h: 0 });
    await sender.broadcast(signed!.rawTx);
    if ((await sender.confirmations(signed!.txHash)) < 1) throw new Error(`deposit ${signed!.txHash} not mined`);
  }
  report('sequential (sign, broadcast, confirm each)', count, started);

  // One batch, as a claim for many new keys would: sign all, broadcast all, then confirm all.
  started = performance.now();
  const signed = await sender.signDeposits({ deposits: deposits.slice(count), firstNonce: await sender.pendingNonce(), depositsInLast24h: 0 });
  for (const tx of signed) await sender.broadcast(tx.rawTx);
  for (const tx of signed) if ((await sender.confirmations(tx.txHash)) < 1) throw new Error(`deposit ${tx.txHash} not mined`);
  report('batched (sign all, broadcast all, confirm)', count, started);

  const events = await sender.findDepositEvents(deposits.map((d) => Buffer.from(d.pubKey).toString('hex')), 0);
  if (events.length !== 2 * count) throw new Error(`expected ${2 * count} DepositEvents, found ${events.length}`);
} finally {
  await evm.close();
}

function report(label: string, deposits: number, startedMs: number): void {
  const seconds = (performance.now() - startedMs) / 1000;
  console.log(`${label.padEnd(44)} ${deposits} deposits in ${seconds.toFixed(2)} s = ${((deposits / seconds) * 60).toFixed(0)} deposits/min`);
}
