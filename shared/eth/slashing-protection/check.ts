import { SlashingProtectionError } from './errors.js';
import type { Interchange } from './interchange.js';

/**
 * Refuses an interchange that may not be accepted for these keys: one from another chain, or one that
 * carries history for a key outside `allowedPubKeys` (a pod must not rewrite the history of keys it
 * does not hold).
 */
export function checkInterchangeFor(options: { interchange: Interchange; genesisValidatorsRoot: string; allowedPubKeys: Iterable<string> }): void {
  const { interchange } = options;
  const expectedRoot = options.genesisValidatorsRoot.toLowerCase();
  if (interchange.metadata.genesisValidatorsRoot !== expectedRoot) {
    throw new SlashingProtectionError(
      'INTERCHANGE_GENESIS',
      `the slashing protection is for the chain with genesis_validators_root ${interchange.metadata.genesisValidatorsRoot}, not ${expectedRoot}: export it from a validator client on this network`,
    );
  }
  const allowed = new Set([...options.allowedPubKeys].map((pubkey) => pubkey.toLowerCase()));
  const foreign = interchange.data.find((record) => !allowed.has(record.pubkey));
  if (foreign) {
    throw new SlashingProtectionError(
      'INTERCHANGE_FOREIGN_KEY',
      `the slashing protection has data for ${foreign.pubkey}, which is not one of the keys it was given for: send only the history of those keys`,
    );
  }
}
