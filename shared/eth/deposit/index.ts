/** Deposits as the consensus specs and staking-deposit-cli define them: data, signatures, roots, JSON. */
export { DepositError, type DepositErrorCode } from './errors.js';
export { computeDepositDomain } from './domain.js';
export { DepositData } from './ssz-types.js';
export { FULL_DEPOSIT_GWEI, WEI_PER_GWEI, signDeposit, verifyDeposit, type SignedDeposit } from './deposit-data.js';
export { depositDataJson, type DepositDataJsonEntry } from './deposit-data-json.js';
export { checksummedWithdrawalAddress, executionWithdrawalCredentials, type ExecutionWithdrawalPrefix } from './withdrawal-credentials.js';
export { bareHex, hexToBytes, prefixedHex } from './hex.js';
