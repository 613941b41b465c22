import { SLOTS_PER_EPOCH } from './lodestar.js';

/**
 * What the chain itself shows, read from a beacon node's standard API: who proposed each block, and whose
 * attestations the blocks included (an attestation's aggregation bits index its committee's members).
 */
export interface ChainBlock {
  readonly slot: number;
  readonly proposerIndex: number;
  readonly attestations: ReadonlyArray<{ readonly slot: number; readonly committeeIndex: number; readonly aggregationBits: readonly boolean[] }>;
}

export interface IncludedAttestation {
  readonly validatorIndex: number;
  /** The slot attested to. */
  readonly slot: number;
  /** The slot of the block that included it. */
  readonly inclusionSlot: number;
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { data: T }).data;
}

export async function headSlot(restUrl: string): Promise<number> {
  const header = await getJson<{ header: { message: { slot: string } } }>(`${restUrl}/eth/v1/beacon/headers/head`);
  return Number(header!.header.message.slot);
}

/** Resolves once the head block is at `slot` or later; polls every 200 ms. */
export async function waitForHeadSlot(restUrl: string, slot: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const head = await headSlot(restUrl);
    if (head >= slot) return head;
    if (Date.now() > deadline) throw new Error(`the chain's head stayed at slot ${head}, short of ${slot}, for ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The slot the chain's clock is in now (the wall clock, whether or not blocks were made). */
export function clockSlot(node: { genesisTime: number; params: { secondsPerSlot: number } }): number {
  return Math.floor((Date.now() / 1000 - node.genesisTime) / node.params.secondsPerSlot);
}

/** Resolves when the chain's clock reaches the start of `slot`, whether or not any block is made. */
export async function untilSlot(node: { genesisTime: number; params: { secondsPerSlot: number } }, slot: number): Promise<void> {
  const ms = (node.genesisTime + slot * node.params.secondsPerSlot) * 1000 - Date.now();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/** The block at `blockId` (a slot, a root, or 'head'); undefined for an empty slot. */
export async function getBlock(restUrl: string, blockId: string | number): Promise<ChainBlock | undefined> {
  type Json = { message: { slot: string; proposer_index: string; body: { attestations: Array<{ aggregation_bits: string; data: { slot: string; index: string } }> } } };
  const block = await getJson<Json>(`${restUrl}/eth/v2/beacon/blocks/${blockId}`);
  if (!block) return undefined;
  return {
    slot: Number(block.message.slot),
    proposerIndex: Number(block.message.proposer_index),
    attestations: block.message.body.attestations.map((a) => ({ slot: Number(a.data.slot), committeeIndex: Number(a.data.index), aggregationBits: bitlist(a.aggregation_bits) })),
  };
}

/** An SSZ Bitlist in hex: bits little-endian within each byte, ended by a single 1 bit that is not part of the list. */
export function bitlist(hex: string): boolean[] {
  const bytes = Buffer.from(hex.replace(/^0x/, ''), 'hex');
  const last = bytes[bytes.length - 1];
  if (!last) throw new Error(`bitlist ${hex} has no end marker`);
  const length = (bytes.length - 1) * 8 + (31 - Math.clz32(last));
  return Array.from({ length }, (_, i) => ((bytes[i >> 3]! >> (i & 7)) & 1) === 1);
}

type Committees = Array<{ slot: number; index: number; validators: number[] }>;
/** Committees by beacon API and epoch: an epoch's committees never change once it is within reach of the head. */
const committeeCache = new Map<string, Committees>();

/**
 * The beacon committees of `epoch`, rebuilt from every validator's attester duty (the endpoint validator
 * clients rely on). Lodestar 1.5.1's /eth/v1/beacon/states/{id}/committees swaps slot and committee index
 * (it reports the slot's position in the epoch as `index` and the committee index as `slot`), so it is
 * not used. Duties are served only near the head, so committees are kept once read: a caller that reads
 * the chain as it goes (at least once an epoch) always finds them.
 */
export async function committees(restUrl: string, epoch: number): Promise<Committees> {
  const key = `${restUrl}#${epoch}`;
  const cached = committeeCache.get(key);
  if (cached) return cached;
  const validators = await getJson<Array<{ index: string }>>(`${restUrl}/eth/v1/beacon/states/head/validators`);
  const response = await fetch(`${restUrl}/eth/v1/validator/duties/attester/${epoch}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(validators!.map((v) => v.index)),
  });
  if (!response.ok) throw new Error(`the beacon node has no attester duties for epoch ${epoch} (read the chain at least once an epoch): ${response.status} ${await response.text()}`);
  type Duty = { validator_index: string; committee_index: string; committee_length: string; validator_committee_index: string; slot: string };
  const bySlotAndIndex = new Map<string, { slot: number; index: number; validators: number[] }>();
  for (const duty of ((await response.json()) as { data: Duty[] }).data) {
    const id = `${duty.slot}/${duty.committee_index}`;
    if (!bySlotAndIndex.has(id)) bySlotAndIndex.set(id, { slot: Number(duty.slot), index: Number(duty.committee_index), validators: new Array<number>(Number(duty.committee_length)) });
    bySlotAndIndex.get(id)!.validators[Number(duty.validator_committee_index)] = Number(duty.validator_index);
  }
  const found = [...bySlotAndIndex.values()];
  committeeCache.set(key, found);
  return found;
}

/**
 * Every validator's attestation that the canonical blocks of slots `fromSlot`..`toSlot` included, each
 * once (at its first inclusion).
 */
export async function includedAttestations(restUrl: string, fromSlot: number, toSlot: number): Promise<IncludedAttestation[]> {
  const seen = new Set<string>();
  const included: IncludedAttestation[] = [];
  for (let inclusionSlot = fromSlot; inclusionSlot <= toSlot; inclusionSlot++) {
    const block = await getBlock(restUrl, inclusionSlot);
    if (block) included.push(...(await attestersOf(restUrl, block, seen)));
  }
  return included;
}

/** The attestations `block` includes, one per validator and attested slot, leaving out (and adding to) `seen`. */
async function attestersOf(restUrl: string, block: ChainBlock, seen: Set<string>): Promise<IncludedAttestation[]> {
  const included: IncludedAttestation[] = [];
  for (const attestation of block.attestations) {
    const epochCommittees = await committees(restUrl, Math.floor(attestation.slot / SLOTS_PER_EPOCH));
    const committee = epochCommittees.find((c) => c.slot === attestation.slot && c.index === attestation.committeeIndex);
    if (!committee) throw new Error(`no committee ${attestation.committeeIndex} at slot ${attestation.slot}`);
    attestation.aggregationBits.forEach((set, position) => {
      const validatorIndex = committee.validators[position]!;
      const key = `${validatorIndex}@${attestation.slot}`;
      if (!set || seen.has(key)) return;
      seen.add(key);
      included.push({ validatorIndex, slot: attestation.slot, inclusionSlot: block.slot });
    });
  }
  return included;
}

/**
 * Reads every block as the chain makes it (polling the head), so each epoch's committees are read while
 * the beacon node still serves them, and a test can ask at any time what the chain included and who
 * proposed, for a run longer than the node keeps duties for. Stop it before the beacon node.
 */
export class ChainFollower {
  /** Included attestations, one per validator and attested slot, in inclusion order. */
  readonly attestations: IncludedAttestation[] = [];
  /** Proposer index by slot, for every non-empty slot read. */
  readonly proposers = new Map<number, number>();
  private readonly seen = new Set<string>();
  private lastReadSlot: number;
  private failure: Error | null = null;
  private stopped = false;
  private readonly loop: Promise<void>;

  private constructor(private readonly restUrl: string, fromSlot: number, private readonly pollMs: number) {
    this.lastReadSlot = fromSlot - 1;
    this.loop = this.follow();
  }

  /** Follows the chain from `fromSlot` (default 1, the first block after genesis), reading the head every `pollMs`. */
  static start(restUrl: string, options: { fromSlot?: number; pollMs?: number } = {}): ChainFollower {
    return new ChainFollower(restUrl, options.fromSlot ?? 1, options.pollMs ?? 500);
  }

  /** The last slot whose block (or emptiness) was read. */
  get readThrough(): number {
    return this.lastReadSlot;
  }

  /** Resolves once every slot through `slot` was read; rejects after `timeoutMs` or if following failed. */
  async waitThrough(slot: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.lastReadSlot < slot) {
      if (this.failure) throw this.failure;
      if (Date.now() > deadline) throw new Error(`the chain was read through slot ${this.lastReadSlot}, short of ${slot}, after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Resolves with `check`'s first defined answer, asked after every poll; rejects after `timeoutMs` or if following failed. */
  async waitFor<T>(check: (chain: ChainFollower) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.failure) throw this.failure;
      const found = check(this);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (chain read through slot ${this.lastReadSlot})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async follow(): Promise<void> {
    // A busy beacon node may miss a poll; only a lasting failure ends the following.
    let failures = 0;
    while (!this.stopped) {
      try {
        const head = await headSlot(this.restUrl);
        // Committees of the head's epoch and the next are read while the node serves them.
        const headEpoch = Math.floor(head / SLOTS_PER_EPOCH);
        await committees(this.restUrl, headEpoch);
        await committees(this.restUrl, headEpoch + 1);
        for (let slot = this.lastReadSlot + 1; slot <= head && !this.stopped; slot++) {
          const block = await getBlock(this.restUrl, slot);
          if (block) {
            this.proposers.set(slot, block.proposerIndex);
            this.attestations.push(...(await attestersOf(this.restUrl, block, this.seen)));
          }
          this.lastReadSlot = slot;
        }
        failures = 0;
      } catch (error) {
        if (++failures >= 20) {
          this.failure = error instanceof Error ? error : new Error(String(error));
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }
}

/** Who is to propose each slot of `epoch` (the current or next epoch), by slot: validator indices. */
export async function proposerDuties(restUrl: string, epoch: number): Promise<Map<number, number>> {
  const duties = await getJson<Array<{ slot: string; validator_index: string }>>(`${restUrl}/eth/v1/validator/duties/proposer/${epoch}`);
  if (!duties) throw new Error(`the beacon node has no proposer duties for epoch ${epoch}`);
  return new Map(duties.map((d) => [Number(d.slot), Number(d.validator_index)]));
}

/** The proposer of each non-empty slot in `fromSlot`..`toSlot`, by slot. */
export async function blockProposers(restUrl: string, fromSlot: number, toSlot: number): Promise<Map<number, number>> {
  const proposers = new Map<number, number>();
  for (let slot = fromSlot; slot <= toSlot; slot++) {
    const block = await getBlock(restUrl, slot);
    if (block) proposers.set(slot, block.proposerIndex);
  }
  return proposers;
}
