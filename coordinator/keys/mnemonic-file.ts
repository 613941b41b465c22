import { generateMnemonic as bip39Generate, validateMnemonic } from '@scure/bip39';
import { wordlist } from '@scure/bip39/wordlists/english';
import { readFile } from 'node:fs/promises';
import { KeysError } from './errors.js';

/**
 * Reads a BIP39 mnemonic (English word list) from a file. Whitespace and case are normalized; the
 * words are checked, checksum included, and never repeated in an error.
 */
export async function readMnemonicFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new KeysError('MNEMONIC_FILE', `cannot read the mnemonic file ${path} (${(cause as NodeJS.ErrnoException).code ?? 'error'}): check --mnemonic-file`, { cause });
  }
  const mnemonic = text.normalize('NFKD').trim().toLowerCase().split(/\s+/).join(' ');
  const wordCount = mnemonic === '' ? 0 : mnemonic.split(' ').length;
  if (![12, 15, 18, 21, 24].includes(wordCount)) {
    throw new KeysError('MNEMONIC_INVALID', `the mnemonic file ${path} holds ${wordCount} words; a BIP39 mnemonic has 12, 15, 18, 21 or 24`);
  }
  if (!validateMnemonic(mnemonic, wordlist)) {
    throw new KeysError('MNEMONIC_INVALID', `the mnemonic in ${path} is not a valid BIP39 mnemonic (a word is not in the English list, or the checksum fails): check the file for typos`);
  }
  return mnemonic;
}

/** A new 24-word mnemonic (256 bits of entropy from the OS). */
export function generateMnemonic(): string {
  return bip39Generate(wordlist, 256);
}
