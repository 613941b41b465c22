import type { IncomingMessage, ServerResponse } from 'node:http';
import { assignments } from '../core/index.js';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import { NotLeaderError } from '../replication/errors.js';
import { bearerMatches } from './admin-token.js';
import { readJsonBody, replyJson } from './http-json.js';
import type { KeymanagerAdminOptions } from './keymanager-admin.js';

/** Quarantined keys (GET) and the operator's confirmation that their last holder stopped signing (POST …/release). */
const LIST_PATH = '/admin/quarantine';
const RELEASE_PATH = '/admin/quarantine/release';
const PUBKEY = /^0x[0-9a-f]{96}$/;

/**
 * An operator who has made sure a quarantined key's last pod can no longer sign (its node is powered
 * off, its client's database shows the key removed) releases it here; the next claim still raises the
 * key's watermarks from the clock (S8). Needs the admin token. Returns false when the path is not ours.
 */
export async function routeQuarantineAdmin(request: IncomingMessage, response: ServerResponse, path: string, options: KeymanagerAdminOptions): Promise<boolean> {
  if (path !== LIST_PATH && path !== RELEASE_PATH) return false;
  if (!request.headers.authorization || !bearerMatches(request.headers.authorization, options.token())) {
    replyJson(response, request.headers.authorization ? 403 : 401, { message: 'send Authorization: Bearer <contents of the coordinator\'s api-token file>' });
    return true;
  }
  try {
    if (path === LIST_PATH) {
      if (request.method !== 'GET') replyJson(response, 405, { message: 'use GET' });
      else replyJson(response, 200, { data: await options.log.read((state) => assignments(state).quarantined.filter((k) => k.pool === options.pool)) });
      return true;
    }
    if (request.method !== 'POST') {
      replyJson(response, 405, { message: 'use POST with {"pubkeys": ["0x…"], "confirm": "the holders stopped signing"}' });
      return true;
    }
    const body = await readJsonBody(request, 1024 * 1024);
    const pubKeys = body['pubkeys'];
    if (!Array.isArray(pubKeys) || pubKeys.length === 0 || !pubKeys.every((k) => typeof k === 'string' && PUBKEY.test(k.toLowerCase()))) {
      throw new KeyleaseError('BAD_REQUEST', 'pubkeys must be a non-empty list of 0x-prefixed 48-byte public keys');
    }
    // A deliberate act: the body must say so, so a stray request cannot free keys.
    if (body['confirm'] !== 'the holders stopped signing') throw new KeyleaseError('BAD_REQUEST', 'confirm must be "the holders stopped signing": release only keys whose last pod can no longer sign');
    const result = await options.log.propose({ type: 'ReleaseQuarantine', nowMs: options.wallMs(), pool: options.pool, pubKeys: pubKeys.map((k: string) => k.toLowerCase()) });
    if (!result.ok) {
      replyJson(response, result.refusal.code === 'KEY_NOT_FOUND' ? 404 : 400, { message: result.refusal.message });
      return true;
    }
    options.logger.warn('quarantined keys released by an operator', { keys: result.value.released.length, pubKeys: result.value.released });
    replyJson(response, 200, { released: result.value.released });
  } catch (error) {
    if (error instanceof KeyleaseError && error.code === 'BAD_REQUEST') replyJson(response, 400, { message: error.message });
    else if (error instanceof NotLeaderError) replyJson(response, 503, { message: 'not the leader: ask the leader (keylease quarantine tries every --http URL)' });
    else throw error;
  }
  return true;
}
