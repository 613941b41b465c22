import { createHash } from 'node:crypto';
import { StorageError } from './errors.js';

/** Every stored record carries a checksum of its payload so that damage is detected, not applied. */
export function encodeRecord(payload: unknown): string {
  const body = JSON.stringify(payload);
  return JSON.stringify({ sum: checksum(body), body });
}

export function decodeRecord<T>(stored: string, where: string): T {
  let parsed: { sum?: unknown; body?: unknown };
  try {
    parsed = JSON.parse(stored);
  } catch (cause) {
    throw corrupt(where, 'it is not valid JSON', cause);
  }
  if (typeof parsed.body !== 'string' || parsed.sum !== checksum(parsed.body)) throw corrupt(where, 'its checksum does not match');
  return JSON.parse(parsed.body) as T;
}

/**
 * A large text (a part of a snapshot) with its checksum in front: unlike encodeRecord it is not escaped
 * into a JSON string, which would copy a megabyte part and grow it by a fifth.
 */
export function encodeText(text: string): string {
  return `${checksum(text)}:${text}`;
}

export function decodeText(stored: string, where: string): string {
  const sum = stored.slice(0, 32);
  const text = stored.slice(33);
  if (stored[32] !== ':' || sum !== checksum(text)) throw corrupt(where, 'its checksum does not match');
  return text;
}

function checksum(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 32);
}

function corrupt(where: string, why: string, cause?: unknown): StorageError {
  return new StorageError(
    'STORAGE_CORRUPT',
    `stored record ${where} is damaged (${why}); keylease will not start on damaged data: restore the data directory from a backup or rebuild this replica from its peers`,
    { cause },
  );
}
