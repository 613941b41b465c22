import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { KeysError } from './errors.js';

export interface KeystoreWithPassword {
  readonly file: string;
  readonly keystoreJson: string;
  readonly keystorePassword: string;
}

/**
 * Reads EIP-2335 keystores from a directory as staking-deposit-cli and the clients leave them:
 * every `*.json` except `deposit_data-*.json`, with either one password for all (`passwordFile`) or
 * one per keystore in `passwordsDir/<keystore name without .json>.txt` (Teku's convention).
 */
export async function readKeystoreDir(keystoresDir: string, passwords: { passwordFile?: string; passwordsDir?: string }): Promise<KeystoreWithPassword[]> {
  if (!passwords.passwordFile === !passwords.passwordsDir) {
    throw new KeysError('IMPORT_PASSWORDS', 'give exactly one of --password-file (one password for every keystore) or --passwords-dir (NAME.txt per NAME.json)');
  }
  let names: string[];
  try {
    names = (await readdir(keystoresDir)).filter((n) => n.endsWith('.json') && !n.startsWith('deposit_data-')).sort();
  } catch (cause) {
    throw new KeysError('IMPORT_DIR', `cannot read the keystore directory ${keystoresDir}: check the path`, { cause });
  }
  if (names.length === 0) throw new KeysError('IMPORT_DIR', `${keystoresDir} holds no keystore (*.json) files`);
  const shared = passwords.passwordFile ? await readPassword(passwords.passwordFile) : null;
  const keystores: KeystoreWithPassword[] = [];
  for (const name of names) {
    const keystorePassword = shared ?? (await readPassword(join(passwords.passwordsDir!, basename(name, '.json') + '.txt')));
    keystores.push({ file: name, keystoreJson: await readFile(join(keystoresDir, name), 'utf8'), keystorePassword });
  }
  return keystores;
}

async function readPassword(path: string): Promise<string> {
  try {
    // A trailing newline is how editors and `echo` leave password files; it is not part of the password.
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (cause) {
    throw new KeysError('IMPORT_PASSWORDS', `cannot read the password file ${path}: every keystore needs its password`, { cause });
  }
}
