import type { Interchange } from './interchange.js';

/** The part of an interchange that speaks for the given keys (any case), e.g. to hand one key's history on. */
export function interchangeFor(interchange: Interchange, pubkeys: Iterable<string>): Interchange {
  const wanted = new Set([...pubkeys].map((pubkey) => pubkey.toLowerCase()));
  return { metadata: interchange.metadata, data: interchange.data.filter((record) => wanted.has(record.pubkey)) };
}
