/**
 * EIP-3076 slashing-protection interchange, format version 5 (https://eips.ethereum.org/EIPS/eip-3076).
 * Slots and epochs are uint64 on the chain and decimal strings on the wire; they are bigints here because
 * a JavaScript number loses exactness above 2^53 (the EIP chose strings for that very reason).
 * Public keys and roots are kept as lowercase 0x-prefixed hex.
 */
export const INTERCHANGE_FORMAT_VERSION = '5';

export interface SignedBlock {
  readonly slot: bigint;
  readonly signingRoot?: string;
}

export interface SignedAttestation {
  readonly sourceEpoch: bigint;
  readonly targetEpoch: bigint;
  readonly signingRoot?: string;
}

/** One `data[]` entry. The same pubkey may appear in several entries (the interchange tests accept that). */
export interface InterchangeRecord {
  readonly pubkey: string;
  readonly signedBlocks: readonly SignedBlock[];
  readonly signedAttestations: readonly SignedAttestation[];
}

export interface Interchange {
  readonly metadata: {
    readonly interchangeFormatVersion: typeof INTERCHANGE_FORMAT_VERSION;
    readonly genesisValidatorsRoot: string;
  };
  readonly data: readonly InterchangeRecord[];
}

export function emptyInterchange(genesisValidatorsRoot: string): Interchange {
  return { metadata: { interchangeFormatVersion: INTERCHANGE_FORMAT_VERSION, genesisValidatorsRoot: genesisValidatorsRoot.toLowerCase() }, data: [] };
}

/** The wire form: snake_case keys, decimal strings, optional signing roots omitted when absent. */
export function serializeInterchange(interchange: Interchange): string {
  return JSON.stringify({
    metadata: {
      interchange_format_version: interchange.metadata.interchangeFormatVersion,
      genesis_validators_root: interchange.metadata.genesisValidatorsRoot,
    },
    data: interchange.data.map((record) => ({
      pubkey: record.pubkey,
      signed_blocks: record.signedBlocks.map((block) => ({ slot: block.slot.toString(), ...withSigningRoot(block.signingRoot) })),
      signed_attestations: record.signedAttestations.map((attestation) => ({
        source_epoch: attestation.sourceEpoch.toString(),
        target_epoch: attestation.targetEpoch.toString(),
        ...withSigningRoot(attestation.signingRoot),
      })),
    })),
  });
}

function withSigningRoot(signingRoot: string | undefined): { signing_root?: string } {
  return signingRoot === undefined ? {} : { signing_root: signingRoot };
}
