import { DepositError } from '../../shared/eth/deposit/index.js';
import { requestJson } from '../../shared/http/json-request.js';

/** Requests in flight to the beacon node at once. */
const CONCURRENCY = 4;
const STATUS = /^[a-z_]{1,40}$/;

/**
 * A beacon node's view of validators (the standard Beacon API, GET
 * /eth/v1/beacon/states/head/validators/{pubkey}): a key it knows is deposited, and may be active.
 * It sees a deposit only once the beacon chain has processed it, so DepositEvents are read as well.
 */
export class BeaconValidators {
  constructor(private readonly beaconUrl: string) {}

  /** Each key's validator status (pending_queued, active_ongoing, exited_unslashed, …) or null when the node does not know it. */
  async statuses(pubKeys: readonly string[]): Promise<Map<string, string | null>> {
    const result = new Map<string, string | null>();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, pubKeys.length) }, async () => {
        for (let i = next++; i < pubKeys.length; i = next++) result.set(pubKeys[i]!, await this.status(pubKeys[i]!));
      }),
    );
    return result;
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
