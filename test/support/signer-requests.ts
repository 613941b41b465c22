import type { Clock } from '../../shared/clock/clock.js';
import { interopPubkey, interopSecretKey } from './interop-keys.js';

/** A chain for signer tests: its genesis validators root and fork versions (minimal preset: 8 slots an epoch). */
export const TEST_CHAIN = {
  genesisValidatorsRoot: '0x270d43e74ce340de4bca2b1936beca0f4f5408d9e78aec4850920baf659d5b69',
  genesisForkVersion: '0x00000001',
  preset: 'minimal' as const,
};

const FORK_INFO = {
  fork: { previous_version: '0x02000001', current_version: '0x03000001', epoch: '0' },
  genesis_validators_root: TEST_CHAIN.genesisValidatorsRoot,
};

const root = (byte: string) => '0x' + byte.repeat(32);

/** A BLOCK_V2 sign request (header form, as clients send from Bellatrix on) for `slot`. */
export function blockRequest(slot: number | bigint, bodyRootByte = 'ab'): Record<string, unknown> {
  return {
    type: 'BLOCK_V2',
    fork_info: FORK_INFO,
    beacon_block: {
      version: 'CAPELLA',
      block_header: { slot: String(slot), proposer_index: '1', parent_root: root('11'), state_root: root('22'), body_root: root(bodyRootByte) },
    },
  };
}

/** An ATTESTATION sign request with these source and target epochs. */
export function attestationRequest(sourceEpoch: number | bigint, targetEpoch: number | bigint): Record<string, unknown> {
  return {
    type: 'ATTESTATION',
    fork_info: FORK_INFO,
    attestation: {
      slot: String(BigInt(targetEpoch) * 8n),
      index: '0',
      beacon_block_root: root('33'),
      source: { epoch: String(sourceEpoch), root: root('44') },
      target: { epoch: String(targetEpoch), root: root('55') },
    },
  };
}

/** A RANDAO_REVEAL request: not slashable, so never refused by protection. */
export function randaoRequest(epoch: number): Record<string, unknown> {
  return { type: 'RANDAO_REVEAL', fork_info: FORK_INFO, randao_reveal: { epoch: String(epoch) } };
}

/** Interop validator `index` as the signer takes it. */
export function interopKey(index: number, slashingProtection = ''): { pubKey: string; secretKey: Uint8Array; slashingProtection: string } {
  return { pubKey: interopPubkey(index), secretKey: interopSecretKey(index), slashingProtection };
}

/** A clock the test sets by hand; `reads` counts monotonicMs() calls. */
export function manualClock(startMs = 1_000): Clock & { nowMs: number; reads: number } {
  const clock = {
    nowMs: startMs,
    reads: 0,
    monotonicMs: () => {
      clock.reads += 1;
      return clock.nowMs;
    },
    wallMs: () => 1_700_000_000_000 + clock.nowMs,
  };
  return clock;
}

/** An EIP-3076 interchange of one key's watermarks on TEST_CHAIN. */
export function interchangeFor(pubkey: string, blockSlot: number | null, attestation: [number, number] | null, genesisValidatorsRoot = TEST_CHAIN.genesisValidatorsRoot): string {
  return JSON.stringify({
    metadata: { interchange_format_version: '5', genesis_validators_root: genesisValidatorsRoot },
    data: [
      {
        pubkey,
        signed_blocks: blockSlot === null ? [] : [{ slot: String(blockSlot) }],
        signed_attestations: attestation === null ? [] : [{ source_epoch: String(attestation[0]), target_epoch: String(attestation[1]) }],
      },
    ],
  });
}
