import { formatEther } from 'ethers';
import { DepositError } from '../../shared/eth/deposit/index.js';

/**
 * Refusals that keep a bug or a runaway allocation loop from draining the funding wallet: checked
 * before anything is signed, so a refused batch sends nothing.
 */
export interface AffordabilityCheck {
  readonly fundingAddress: string;
  readonly balanceWei: bigint;
  readonly depositCount: number;
  /** What the deposits themselves transfer, together. */
  readonly totalValueWei: bigint;
  /** The most gas one deposit can cost: gas limit × max fee per gas. */
  readonly maxGasCostWei: bigint;
}

export function assertAffordable(check: AffordabilityCheck): void {
  const gasWei = check.maxGasCostWei * BigInt(check.depositCount);
  const neededWei = check.totalValueWei + gasWei;
  if (check.balanceWei < neededWei) {
    throw new DepositError(
      'DEPOSIT_INSUFFICIENT_FUNDS',
      `the funding wallet ${check.fundingAddress} holds ${formatEther(check.balanceWei)} ETH; ${check.depositCount} deposit(s) need up to ${formatEther(neededWei)} ETH ` +
        `(${formatEther(check.totalValueWei)} ETH deposited plus at most ${formatEther(gasWei)} ETH gas): send ETH to ${check.fundingAddress}; nothing was sent`,
    );
  }
}

export interface DailyCapCheck {
  /** Deposits this wallet signed in the 24 hours before now, as the caller's records show. */
  readonly depositsInLast24h: number;
  readonly requested: number;
  readonly maxDepositsPerDay: number;
}

export function assertWithinDailyCap(check: DailyCapCheck): void {
  if (check.depositsInLast24h + check.requested > check.maxDepositsPerDay) {
    throw new DepositError(
      'DEPOSIT_DAILY_CAP',
      `${check.requested} more deposit(s) would make ${check.depositsInLast24h + check.requested} in 24 hours, above the daily cap of ${check.maxDepositsPerDay}: ` +
        'wait, or raise the cap deliberately; nothing was sent',
    );
  }
}
