import { readFile } from 'node:fs/promises';
import { writeDepositDataFiles } from '../coordinator/deposits/deposit-data-files.js';
import { MAX_DERIVATION_INDEX } from '../coordinator/keys/derive.js';
import { readMnemonicFile } from '../coordinator/keys/mnemonic-file.js';
import type { CommandSpec } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { DepositError, checksummedWithdrawalAddress } from '../shared/eth/deposit/index.js';
import { KNOWN_NETWORKS, KNOWN_NETWORK_NAMES, type KnownNetworkName } from '../shared/eth/networks.js';
import { runCommand } from '../shared/cli/run-command.js';

/** staking-deposit-cli (ethstaker-deposit-cli) refuses keystore passwords shorter than this. */
const MIN_KEYSTORE_PASSWORD_LENGTH = 12;

export const DEPOSIT_DATA_COMMAND: CommandSpec = {
  name: 'deposit-data',
  summary:
    'Writes deposit_data-<timestamp>.json (and, with --keystore-password-file, one EIP-2335 keystore per validator) for validators ' +
    '--start..--start+--count-1 of a mnemonic, exactly as staking-deposit-cli\'s existing-mnemonic writes them. Use it to fund keys by hand ' +
    '(e.g. through the Launchpad) or to check what keylease derives.',
  flags: [
    { name: 'mnemonic-file', kind: 'string', required: true, description: 'File holding the pool\'s BIP39 mnemonic.' },
    { name: 'start', kind: 'int', default: 0, min: 0, max: MAX_DERIVATION_INDEX, description: 'First validator index (EIP-2334 m/12381/3600/<index>/0/0).' },
    { name: 'count', kind: 'int', required: true, min: 1, description: 'Number of validators.' },
    { name: 'network', kind: 'string', required: true, choices: KNOWN_NETWORK_NAMES, description: 'Network the deposits are signed for (its genesis fork version).' },
    { name: 'withdrawal-address', kind: 'string', required: true, description: 'EIP-55 checksummed execution address that receives withdrawals (0x01 credentials).' },
    { name: 'compounding', kind: 'bool', default: false, description: 'Write 0x02 (compounding, EIP-7251) withdrawal credentials instead of 0x01.' },
    { name: 'out', kind: 'string', required: true, description: 'Directory to write into (created if missing; existing files are never overwritten).' },
    { name: 'keystore-password-file', kind: 'string', description: 'File with the keystores\' password (at least 12 characters). Without it no keystores are written.' },
    { name: 'kdf', kind: 'string', choices: ['scrypt', 'pbkdf2'], default: 'scrypt', description: 'Keystore KDF: scrypt as staking-deposit-cli (~1 s, 256 MiB per key), or pbkdf2 (~60 ms).' },
  ],
};

/** `keylease deposit-data`. */
export function depositDataMain(argv: string[]): Promise<void> {
  return runCommand(DEPOSIT_DATA_COMMAND, argv, async (values) => {
    const start = values['start'] as number;
    const count = values['count'] as number;
    if (start + count - 1 > MAX_DERIVATION_INDEX) throw new ConfigError(`--start ${start} with --count ${count} goes past the last derivation index 2^32-1`);
    const withdrawalAddress = checkedWithdrawalAddress(values['withdrawal-address'] as string);
    const network = KNOWN_NETWORKS[values['network'] as KnownNetworkName];
    const passwordFile = values['keystore-password-file'] as string | undefined;
    const keystorePassword = passwordFile === undefined ? undefined : await readKeystorePassword(passwordFile);
    const mnemonic = await readMnemonicFile(values['mnemonic-file'] as string);

    if (keystorePassword === undefined) process.stderr.write('no --keystore-password-file: writing deposit data only, no keystores\n');
    const progress = progressReporter(count);
    const files = await writeDepositDataFiles({
      mnemonic,
      start,
      count,
      network,
      withdrawalAddress,
      withdrawalPrefix: values['compounding'] ? 0x02 : 0x01,
      outDir: values['out'] as string,
      keystorePassword,
      kdf: values['kdf'] as 'scrypt' | 'pbkdf2',
      timestamp: Math.floor(Date.now() / 1000),
      onProgress: progress,
    });
    process.stdout.write([...files.keystoreFiles, files.depositDataFile].join('\n') + '\n');
  });
}

function checkedWithdrawalAddress(address: string): string {
  try {
    return checksummedWithdrawalAddress(address);
  } catch (error) {
    if (error instanceof DepositError) throw new ConfigError(`--withdrawal-address: ${error.message}`);
    throw error;
  }
}

async function readKeystorePassword(path: string): Promise<string> {
  let password: string;
  try {
    // A trailing newline is how editors and `echo` leave password files; it is not part of the password.
    password = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (cause) {
    throw new ConfigError(`cannot read the keystore password file ${path} (${(cause as NodeJS.ErrnoException).code ?? 'error'}): check --keystore-password-file`, { cause });
  }
  if ([...password].length < MIN_KEYSTORE_PASSWORD_LENGTH) {
    throw new ConfigError(`the password in ${path} is shorter than ${MIN_KEYSTORE_PASSWORD_LENGTH} characters; use a longer one`);
  }
  return password;
}

/** "validator N/M" on stderr, redrawn in place on a terminal and every 5% (plus the last) otherwise. */
function progressReporter(total: number): (done: number) => void {
  const tty = process.stderr.isTTY === true;
  const step = Math.max(1, Math.floor(total / 20));
  return (done) => {
    if (tty) process.stderr.write(`\rvalidator ${done}/${total}${done === total ? '\n' : ''}`);
    else if (done % step === 0 || done === total) process.stderr.write(`validator ${done}/${total}\n`);
  };
}
