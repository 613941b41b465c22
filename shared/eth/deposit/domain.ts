import { ForkData, SigningData } from './ssz-types.js';

/** DOMAIN_DEPOSIT (consensus-specs phase0). */
export const DOMAIN_DEPOSIT = new Uint8Array([0x03, 0x00, 0x00, 0x00]);

/**
 * compute_domain(DOMAIN_DEPOSIT, genesisForkVersion, genesis_validators_root = zero). Deposits use a zero
 * genesis validators root so they can be signed before the chain (and its root) exists.
 */
export function computeDepositDomain(genesisForkVersion: Uint8Array): Uint8Array {
  const forkDataRoot = ForkData.hashTreeRoot({ currentVersion: genesisForkVersion, genesisValidatorsRoot: new Uint8Array(32) });
  const domain = new Uint8Array(32);
  domain.set(DOMAIN_DEPOSIT, 0);
  domain.set(forkDataRoot.subarray(0, 28), 4);
  return domain;
}

/** compute_signing_root: the root of SigningData{object_root, domain}, the message a BLS key signs. */
export function computeSigningRoot(objectRoot: Uint8Array, domain: Uint8Array): Uint8Array {
  return SigningData.hashTreeRoot({ objectRoot, domain });
}
