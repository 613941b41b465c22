import type { Logger } from '../../shared/log/logger.js';
import { AgentError } from '../errors.js';
import type { GrantedKey, KeyHolder } from '../key-holders.js';
import { callKeymanager, type KeymanagerConnection } from './transport.js';

const REMOTE_KEYS_PATH = '/eth/v1/remotekeys';
/** DELETE+GET rounds before giving up on a client that keeps listing a remote key (Lodestar 1.5.1 needs two). */
const REMOVAL_ROUNDS = 3;

/**
 * Remote-signer mode with a client that manages its remote keys over the Keymanager API
 * (`/eth/v1/remotekeys`): the agent tells the client which keys to ask it to sign with, and takes them
 * off that list before its signer stops (a client asking a stopped signer for an aggregation slot can
 * drop every key's duties for the epoch: Lodestar does). Safety does not rest on this list — a key
 * the agent no longer holds cannot be signed with — so a client that keeps listing a key is reported,
 * not fatal.
 */
export class RemoteKeysRegistration implements KeyHolder {
  readonly name = 'client remote keys';

  constructor(
    private readonly connection: () => Promise<KeymanagerConnection>,
    private readonly signerUrl: () => string,
    private readonly logger: Logger,
  ) {}

  async install(keys: readonly GrantedKey[]): Promise<void> {
    const connection = await this.connection();
    const pubKeys = keys.map((key) => key.pubKey.toLowerCase());
    const url = this.signerUrl();
    await callKeymanager(connection, { method: 'POST', path: REMOTE_KEYS_PATH, body: { remote_keys: pubKeys.map((pubkey) => ({ pubkey, url })) } });
    const listed = new Set(await this.list(connection));
    const missing = pubKeys.filter((pubKey) => !listed.has(pubKey));
    if (missing.length > 0) throw new AgentError('REMOTE_KEYS_MISSING', `after POST ${REMOTE_KEYS_PATH} the validator client does not list ${missing.join(', ')}`);
  }

  async removeAll(): Promise<{ slashingProtection: string | null }> {
    const connection = await this.connection();
    for (let round = 1; round <= REMOVAL_ROUNDS; round++) {
      const listed = await this.list(connection);
      if (listed.length === 0) return { slashingProtection: null };
      await callKeymanager(connection, { method: 'DELETE', path: REMOTE_KEYS_PATH, body: { pubkeys: listed } });
    }
    const left = await this.list(connection);
    if (left.length > 0) this.logger.warn('the validator client still lists remote keys after DELETE; the agent\'s signer no longer signs for them', { keys: left });
    return { slashingProtection: null };
  }

  private async list(connection: KeymanagerConnection): Promise<string[]> {
    const body = (await callKeymanager(connection, { method: 'GET', path: REMOTE_KEYS_PATH })) as { data?: Array<{ pubkey?: unknown; readonly?: unknown }> };
    if (!Array.isArray(body?.data)) throw new AgentError('KEYMANAGER_RESPONSE', `GET ${REMOTE_KEYS_PATH} answered without a data list`);
    return body.data.filter((entry) => entry.readonly !== true && typeof entry.pubkey === 'string').map((entry) => (entry.pubkey as string).toLowerCase());
  }
}
