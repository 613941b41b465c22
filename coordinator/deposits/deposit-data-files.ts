import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  FULL_DEPOSIT_GWEI,
  depositDataJson,
  executionWithdrawalCredentials,
  hexToBytes,
  signDeposit,
  type ExecutionWithdrawalPrefix,
  type SignedDeposit,
} from '../../shared/eth/deposit/index.js';
import { encryptKeystore } from '../../shared/eth/keystore.js';
import type { NetworkSettings } from '../../shared/eth/networks.js';
import { deriveSigningKeyFromRoot, deriveValidatorRootKey, mnemonicToSeed } from '../keys/derive.js';

/** Keystores encrypted at once: the KDF runs on libuv's thread pool, and scrypt takes 256 MiB each. */
const KEYSTORE_CONCURRENCY = 2;

export interface DepositDataFilesRequest {
  readonly mnemonic: string;
  readonly start: number;
  readonly count: number;
  readonly network: Pick<NetworkSettings, 'name' | 'genesisForkVersion'>;
  readonly withdrawalAddress: string;
  readonly withdrawalPrefix: ExecutionWithdrawalPrefix;
  readonly outDir: string;
  /** Without it only the deposit data is written (keylease derives the keys itself from the mnemonic). */
  readonly keystorePassword?: string;
  readonly kdf: 'scrypt' | 'pbkdf2';
  /** Unix seconds in every file name, as staking-deposit-cli stamps one run. */
  readonly timestamp: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface DepositDataFiles {
  readonly depositDataFile: string;
  readonly keystoreFiles: readonly string[];
}

/**
 * What staking-deposit-cli's `existing-mnemonic` writes for validators start..start+count-1: one EIP-2335
 * keystore per signing key (m/12381/3600/i/0/0) and one deposit_data file, named as it names them.
 * Files are created exclusively and owner-read-only (0400), as it creates them.
 */
export async function writeDepositDataFiles(request: DepositDataFilesRequest): Promise<DepositDataFiles> {
  const withdrawalCredentials = executionWithdrawalCredentials(request.withdrawalAddress, request.withdrawalPrefix);
  const genesisForkVersion = hexToBytes(request.network.genesisForkVersion, 4, 'genesis fork version');
  await mkdir(request.outDir, { recursive: true });
  const seed = mnemonicToSeed(request.mnemonic);
  let rootKey: Uint8Array;
  try {
    rootKey = deriveValidatorRootKey(seed);
  } finally {
    seed.fill(0);
  }
  const deposits: SignedDeposit[] = new Array(request.count);
  const keystoreFiles: string[] = new Array(request.keystorePassword === undefined ? 0 : request.count);
  let next = 0;
  let done = 0;
  try {
    await Promise.all(
      Array.from({ length: KEYSTORE_CONCURRENCY }, async () => {
        for (let position = next++; position < request.count; position = next++) {
          const key = deriveSigningKeyFromRoot(rootKey, request.start + position);
          try {
            deposits[position] = signDeposit({ privKey: key.privKey, withdrawalCredentials, amountGwei: FULL_DEPOSIT_GWEI, genesisForkVersion });
            if (request.keystorePassword !== undefined) {
              const keystore = await encryptKeystore(request.keystorePassword, key.privKey, key.pubKey, key.path, { kdf: request.kdf });
              const file = join(request.outDir, `keystore-${key.path.replaceAll('/', '_')}-${request.timestamp}.json`);
              await writeExclusive(file, JSON.stringify(keystore));
              keystoreFiles[position] = file;
            }
          } finally {
            key.privKey.fill(0);
          }
          request.onProgress?.(++done, request.count);
        }
      }),
    );
  } finally {
    rootKey.fill(0);
  }
  const depositDataFile = join(request.outDir, `deposit_data-${request.timestamp}.json`);
  await writeExclusive(depositDataFile, depositDataJson(deposits, request.network.name));
  return { depositDataFile, keystoreFiles };
}

/** Refuses to overwrite (a second run in the same second, a reused directory) rather than lose a file. */
async function writeExclusive(path: string, text: string): Promise<void> {
  await writeFile(path, text, { flag: 'wx', mode: 0o400 });
}
