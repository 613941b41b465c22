import { existsSync } from 'node:fs';
import { runCommand } from '../shared/cli/run-command.js';
import { LOG_LEVEL_FLAGS, logLevelOf, type CommandSpec } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { createLogger } from '../shared/log/logger.js';
import type { NewPoolKey } from './core/index.js';
import { replicaDirectory } from './config.js';
import { readKek } from './keys/kek.js';
import { readKeystoreDir } from './keys/keystore-dir.js';
import { sealImportedKeystore } from './keys/pool-key.js';
import { PoolSecrets } from './keys/pool-secrets.js';
import { SingleReplicaLog } from './replication/single-replica-log.js';
import { checkSecretsMatchPool } from './startup-checks.js';

const IMPORT_COMMAND: CommandSpec = {
  name: 'import',
  summary: 'Imports existing EIP-2335 keystores into a pool of a stopped coordinator\'s data directory. Every keystore is decrypted and checked first; if any fails, nothing is imported.',
  flags: [
    { name: 'data-dir', kind: 'string', required: true, description: 'The coordinator\'s data directory (the coordinator must be stopped).' },
    { name: 'kek-file', kind: 'string', required: true, description: 'The coordinator\'s key-encryption key file.' },
    { name: 'pool', kind: 'string', default: 'default', description: 'Pool to import into (created by the coordinator\'s first start).' },
    { name: 'keystores', kind: 'string', required: true, description: 'Directory of keystore *.json files (deposit_data-*.json is skipped).' },
    { name: 'password-file', kind: 'string', description: 'File with the one password of every keystore.' },
    { name: 'passwords-dir', kind: 'string', description: 'Directory with NAME.txt holding the password of NAME.json.' },
    ...LOG_LEVEL_FLAGS,
  ],
};

/** Keystore decryptions in flight: KDF work runs on libuv's threads, one per core here. */
const DECRYPT_CONCURRENCY = 2;

/** `keylease import`: wiring only. */
export function importMain(argv: string[]): Promise<void> {
  return runCommand(IMPORT_COMMAND, argv, async (values) => {
    const logger = createLogger({ level: logLevelOf(values), component: 'import' });
    const pool = values['pool'] as string;
    const kek = await readKek(values['kek-file'] as string);
    const keystores = await readKeystoreDir(values['keystores'] as string, {
      passwordFile: values['password-file'] as string | undefined,
      passwordsDir: values['passwords-dir'] as string | undefined,
    });

    const sealed: NewPoolKey[] = new Array(keystores.length);
    let done = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: DECRYPT_CONCURRENCY }, async () => {
        for (let i = next++; i < keystores.length; i = next++) {
          const { file, keystoreJson, keystorePassword } = keystores[i]!;
          try {
            sealed[i] = await sealImportedKeystore(kek, keystoreJson, keystorePassword);
          } catch (error) {
            throw new ConfigError(`${file}: ${error instanceof Error ? error.message : String(error)}; nothing was imported`);
          }
          done++;
          process.stderr.write(`\rchecked ${done}/${keystores.length} keystores`);
        }
      }),
    );
    process.stderr.write('\n');

    const directory = replicaDirectory(values['data-dir'] as string);
    if (!existsSync(directory)) throw new ConfigError(`${values['data-dir']} holds no coordinator data: start the coordinator once to create the pool, stop it, then import`);
    const log = await SingleReplicaLog.open({ directory, logger });
    try {
      await log.read((state) => checkSecretsMatchPool(state, pool, new PoolSecrets(kek, new Map())));
      const result = await log.propose({ type: 'ImportKeys', nowMs: Date.now(), pool, keys: sealed });
      if (!result.ok) throw new ConfigError(`import refused: ${result.refusal.message}; nothing was imported`);
      process.stdout.write(`imported ${result.value.imported.length} keys into pool ${pool}\n`);
    } finally {
      await log.close();
    }
  });
}
