import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { NewPoolKey } from '../core/index.js';
import type { PoolSecrets } from '../keys/pool-secrets.js';
import { FULL_DEPOSIT_GWEI, depositDataJson, hexToBytes, signDeposit, type SignedDeposit } from '../../shared/eth/deposit/index.js';
import { decryptKeystore, parseKeystore } from '../../shared/eth/keystore.js';
import type { Clock } from '../../shared/clock/clock.js';
import type { Logger } from '../../shared/log/logger.js';
import type { DepositNetwork } from './deposit-network.js';

/**
 * Export mode: the operator makes the deposits (e.g. through the Launchpad); the leader writes a
 * deposit_data file, in staking-deposit-cli's format, for every batch of keys it derives. A file lost to
 * a crash is regenerated with `keylease deposit-data` for the same index range.
 */
export class DepositDataExporter {
  constructor(
    private readonly secrets: PoolSecrets,
    private readonly options: { readonly network: Pick<DepositNetwork, 'name' | 'genesisForkVersion'>; readonly withdrawalCredentials: Uint8Array; readonly outDir: string },
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async export(keys: readonly NewPoolKey[]): Promise<string> {
    const deposits: SignedDeposit[] = [];
    for (const key of keys) {
      const opened = this.secrets.open(key);
      const privKey = await decryptKeystore(parseKeystore(opened.keystoreJson), opened.keystorePassword);
      try {
        deposits.push(
          signDeposit({ privKey, withdrawalCredentials: this.options.withdrawalCredentials, amountGwei: FULL_DEPOSIT_GWEI, genesisForkVersion: hexToBytes(this.options.network.genesisForkVersion, 4, 'genesis fork version') }),
        );
      } finally {
        privKey.fill(0);
      }
    }
    await mkdir(this.options.outDir, { recursive: true, mode: 0o700 });
    const file = join(this.options.outDir, `deposit_data-${Math.floor(this.clock.wallMs() / 1000)}-${keys[0]!.pubKey.slice(2, 10)}.json`);
    await writeFile(file, depositDataJson(deposits, this.options.network.name), { mode: 0o400, flag: 'wx' });
    this.logger.info('deposit data written for new keys: deposit them before they are used', { file, keys: keys.length });
    return file;
  }
}
