import { readFile } from 'node:fs/promises';
import { KeysError } from './errors.js';

export const KEK_BYTES = 32;
const CREATE_HINT = `create one with: head -c ${KEK_BYTES} /dev/urandom > kek`;

/**
 * Reads the key-encryption key: exactly 32 bytes, stored raw, as hex (64 digits, optional 0x) or as
 * base64 (44 characters), with an optional trailing newline as Kubernetes Secrets and editors leave it.
 */
export async function readKek(path: string): Promise<Buffer> {
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (cause) {
    throw new KeysError('KEK_FILE', `cannot read the key-encryption key file ${path} (${(cause as NodeJS.ErrnoException).code ?? 'error'}): check --kek-file, or ${CREATE_HINT}`, { cause });
  }
  const kek = decodeKek(content);
  content.fill(0);
  if (!kek) {
    throw new KeysError('KEK_SIZE', `the key-encryption key file ${path} does not hold ${KEK_BYTES} bytes (raw, 64 hex digits or base64): ${CREATE_HINT}`);
  }
  return kek;
}

function decodeKek(content: Buffer): Buffer | null {
  if (content.length === KEK_BYTES) return Buffer.from(content);
  const text = content.toString('latin1').trim();
  if (/^(0x)?[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text.replace(/^0x/, ''), 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64');
  return null;
}
