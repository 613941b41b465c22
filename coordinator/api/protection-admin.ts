import type { KeyProtection } from '../core/index.js';
import type { ReplicatedLog } from '../replication/types.js';
import { protectionOf } from '../allocation/protection-interchange.js';
import { checkInterchangeFor, parseInterchange, SlashingProtectionError } from '../../shared/eth/slashing-protection/index.js';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import type { Logger } from '../../shared/log/logger.js';

export interface PoolAdminContext {
  readonly log: ReplicatedLog;
  readonly pool: string;
  readonly wallMs: () => number;
  readonly logger: Logger;
}

/** Per key, what an import did to its slashing protection. */
export interface ProtectionReport {
  readonly pubkey: string;
  readonly status: 'raised' | 'unchanged';
  readonly before: WatermarksJson;
  readonly after: WatermarksJson;
  /** The key was foreign (found in use on chain): with its protection here, it may be handed out. */
  readonly foreign_cleared: boolean;
}

type WatermarksJson = { block_slot: string | null; source_epoch: string | null; target_epoch: string | null };

const PUBKEY = /^0x[0-9a-fA-F]{96}$/;

/** An EIP-3076 interchange for this pool's network, as per-key watermarks; 400 if it is malformed or of another network. */
export function readPoolInterchange(json: string, context: PoolAdminContext): Record<string, KeyProtection> {
  const genesisValidatorsRoot = context.log.peek((state) => state.pools.get(context.pool)?.genesisValidatorsRoot ?? '');
  try {
    const interchange = parseInterchange(json);
    checkInterchangeFor({ interchange, genesisValidatorsRoot, allowedPubKeys: interchange.data.map((d) => d.pubkey) });
    return protectionOf(interchange);
  } catch (error) {
    if (error instanceof SlashingProtectionError) throw new KeyleaseError('BAD_REQUEST', `slashing protection refused, nothing imported: ${error.message}`);
    throw error;
  }
}

/**
 * Merges protection into keys of the pool through the replicated log (watermarks only go up); a key
 * outside the pool refuses the whole import, naming it.
 */
export async function mergePoolProtection(protection: Record<string, KeyProtection>, context: PoolAdminContext): Promise<ProtectionReport[]> {
  if (Object.keys(protection).length === 0) return [];
  const genesisValidatorsRoot = context.log.peek((state) => state.pools.get(context.pool)!.genesisValidatorsRoot);
  const result = await context.log.propose({ type: 'ImportProtection', nowMs: context.wallMs(), pool: context.pool, genesisValidatorsRoot, protection });
  if (!result.ok) throw new KeyleaseError('BAD_REQUEST', result.refusal.message);
  const reports = result.value.keys.map((key) => ({
    pubkey: key.pubKey,
    status: key.raised ? ('raised' as const) : ('unchanged' as const),
    before: watermarksJson(key.before),
    after: watermarksJson(key.after),
    foreign_cleared: key.wasForeign,
  }));
  context.logger.info('slashing protection imported', { pool: context.pool, keys: reports.length, raised: reports.filter((r) => r.status === 'raised').length, foreignCleared: reports.filter((r) => r.foreign_cleared).length });
  return reports;
}

/** POST /slashing-protection: the EIP-3076 file on its own, for keys already in the pool. */
export async function importProtectionOnly(body: Record<string, unknown>, context: PoolAdminContext): Promise<unknown> {
  const protection = readPoolInterchange(JSON.stringify(body), context);
  if (Object.keys(protection).length === 0) throw new KeyleaseError('BAD_REQUEST', 'the slashing protection names no keys: nothing to import');
  return { data: await mergePoolProtection(protection, context) };
}

/** GET /foreign-keys: keys found in use on chain before the pool recorded them, with what showed them. */
export async function listForeignKeys(context: PoolAdminContext): Promise<unknown> {
  const keys = await context.log.read((state) => [...state.keys.values()].filter((k) => k.pool === context.pool && k.foreign).map((k) => ({ pubKey: k.pubKey, path: k.path, foreign: k.foreign! })));
  return {
    data: keys.map(({ pubKey, path, foreign }) => ({
      pubkey: pubKey,
      derivation_path: path,
      found_at: new Date(foreign.foundAtMs).toISOString(),
      deposit_tx_hash: foreign.depositTxHash,
      deposit_block_number: foreign.depositBlockNumber,
      withdrawal_credentials: foreign.withdrawalCredentials,
      beacon_status: foreign.beaconStatus,
    })),
  };
}

/** POST /foreign-keys/confirm {pubkeys}: the operator's word that these keys sign nowhere else. */
export async function confirmForeignKeys(body: Record<string, unknown>, context: PoolAdminContext): Promise<unknown> {
  const pubkeys = body['pubkeys'];
  if (!Array.isArray(pubkeys) || pubkeys.length === 0 || !pubkeys.every((p) => typeof p === 'string' && PUBKEY.test(p))) {
    throw new KeyleaseError('BAD_REQUEST', 'give pubkeys as a non-empty list of 0x-prefixed 48-byte public keys');
  }
  const result = await context.log.propose({ type: 'ConfirmForeignKeys', nowMs: context.wallMs(), pool: context.pool, pubKeys: (pubkeys as string[]).map((p) => p.toLowerCase()) });
  if (!result.ok) throw new KeyleaseError('BAD_REQUEST', `${result.refusal.message}; nothing was confirmed`);
  context.logger.warn('foreign keys confirmed by an operator: they may be handed out', { pool: context.pool, pubKeys: result.value.confirmed });
  return { data: result.value.confirmed.map((pubkey) => ({ pubkey, status: 'confirmed' })) };
}

function watermarksJson(protection: KeyProtection | null): WatermarksJson {
  return { block_slot: protection?.maxBlockSlot ?? null, source_epoch: protection?.maxSourceEpoch ?? null, target_epoch: protection?.maxTargetEpoch ?? null };
}
