import { DepositError } from '../../shared/eth/deposit/index.js';
import { requestJson } from '../../shared/http/json-request.js';
import { systemClock, type Clock } from '../../shared/clock/clock.js';

/** Requests in flight to the beacon node at once. */
const CONCURRENCY = 4;
const STATUS = /^[a-z_]{1,40}$/;
/**
 * How long an answer is reused. A deposit loop stuck on an empty wallet asks about the same keys twice a
 * second; a deposit made meanwhile shows in the contract's events, read fresh every time, long before
 * the beacon chain processes it.
 */
const ANSWER_TTL_MS = 60_000;

/**
 * A beacon node's view of validators (the standard Beacon API, GET
 * /eth/v1/beacon/states/head/validators/{pubkey}): a key it knows is deposited, and may be active.
 * It sees a deposit only once the beacon chain has processed it, so DepositEvents are read as well.
 */
export class BeaconValidators {
  private readonly answers = new Map<string, { status: string | null; atMs: number }>();

  constructor(
    private readonly beaconUrl: string,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Each key's validator status (pending_queued, active_ongoing, exited_unslashed, …) or null when the node does not know it. */
  async statuses(pubKeys: readonly string[]): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, pubKeys.length) }, async () => {
        for (let i = next++; i < pubKeys.length; i = next++) result.set(pubKeys[i]!, await this.cachedStatus(pubKeys[i]!));
      }),
    );
    return result;
  }

  private async cachedStatus(pubKey: string): Promise<string | null> {
    const nowMs = this.clock.monotonicMs();
    const known = this.answers.get(pubKey);
    if (known && nowMs - known.atMs < ANSWER_TTL_MS) return known.status;
    const status = await this.status(pubKey);
    // Forget stale answers as new ones come in, so the map holds about a minute of keys.
    for (const [key, answer] of this.answers) if (nowMs - answer.atMs >= ANSWER_TTL_MS) this.answers.delete(key);
    this.answers.set(pubKey, { status, atMs: nowMs });
    return status;
  }

  private async status(pubKey: string): Promise<string | null> {
    const url = `${this.beaconUrl.replace(/\/$/, '')}/eth/v1/beacon/states/head/validators/${pubKey}`;
    let response;
    try {
      response = await requestJson(url, { timeoutMs: 10_000 });
    } catch (error) {
      // The URL may carry credentials: it is never named.
      throw new DepositError('DEPOSIT_RPC', `the beacon node did not answer for validator ${pubKey}: ${error instanceof Error ? error.message.replace(/https?:\/\/\S+/g, '<beacon-url>') : String(error)}`, { cause: error });
    }
    if (response.status === 404) return null;
    if (response.status !== 200) throw new DepositError('DEPOSIT_RPC', `the beacon node answered HTTP ${response.status} for validator ${pubKey}: check --beacon-url`);
    let status: unknown;
    try {
      status = (JSON.parse(response.text) as { data?: { status?: unknown } }).data?.status;
    } catch {
      status = undefined;
    }
    if (typeof status !== 'string' || !STATUS.test(status)) throw new DepositError('DEPOSIT_RPC', `the beacon node's answer for validator ${pubKey} carries no validator status: is --beacon-url a Beacon API?`);
    return status;
  }
}
