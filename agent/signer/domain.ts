import { hashTreeRoot } from './ssz/index.js';
import { ForkData, SigningData } from './ssz-types.js';

/** Domain types (consensus-specs phase0/altair beacon-chain.md; builder-specs for the application builder). */
export const DOMAIN = {
  BEACON_PROPOSER: '00000000',
  BEACON_ATTESTER: '01000000',
  RANDAO: '02000000',
  DEPOSIT: '03000000',
  VOLUNTARY_EXIT: '04000000',
  SELECTION_PROOF: '05000000',
  AGGREGATE_AND_PROOF: '06000000',
  SYNC_COMMITTEE: '07000000',
  SYNC_COMMITTEE_SELECTION_PROOF: '08000000',
  CONTRIBUTION_AND_PROOF: '09000000',
  APPLICATION_BUILDER: '00000001',
} as const;
export type DomainType = (typeof DOMAIN)[keyof typeof DOMAIN];

const ZERO_ROOT = new Uint8Array(32);
/** Domains recur (one per fork version and type): computed once each, bounded so odd requests cannot grow it. */
const domains = new Map<string, Uint8Array>();
const MAX_CACHED_DOMAINS = 256;

/** compute_domain(domain_type, fork_version, genesis_validators_root). */
export function computeDomain(domainType: DomainType, forkVersion: Uint8Array, genesisValidatorsRoot: Uint8Array = ZERO_ROOT): Uint8Array {
  const key = domainType + Buffer.from(forkVersion).toString('hex') + Buffer.from(genesisValidatorsRoot).toString('hex');
  let domain = domains.get(key);
  if (!domain) {
    const forkDataRoot = hashTreeRoot(ForkData, { current_version: forkVersion, genesis_validators_root: genesisValidatorsRoot });
    domain = new Uint8Array(32);
    domain.set(Buffer.from(domainType, 'hex'), 0);
    domain.set(forkDataRoot.subarray(0, 28), 4);
    if (domains.size >= MAX_CACHED_DOMAINS) domains.clear();
    domains.set(key, domain);
  }
  return domain;
}

/** compute_signing_root: the root of SigningData{object_root, domain}, which the key signs. */
export function computeSigningRoot(objectRoot: Uint8Array, domain: Uint8Array): Uint8Array {
  return hashTreeRoot(SigningData, { object_root: objectRoot, domain });
}

/** The fork version a message of `epoch` is signed under: get_domain's rule applied to the client's fork_info. */
export function forkVersionAt(fork: { previousVersion: Uint8Array; currentVersion: Uint8Array; epoch: bigint }, epoch: bigint): Uint8Array {
  return epoch < fork.epoch ? fork.previousVersion : fork.currentVersion;
}
