import type { IncomingMessage, ServerResponse } from 'node:http';
import { KeyleaseError } from '../../shared/errors/keylease-error.js';
import { poolNameProblem } from '../../shared/names/pod-name.js';
import { parseListenAddress } from '../../shared/cli/flags.js';
import { NotLeaderError } from '../replication/errors.js';
import { bearerMatches } from './admin-token.js';
import { readJsonBody, replyJson } from './http-json.js';

/** What the Raft replica offers to operators; every call must be made on the leader. */
export interface ClusterAdmin {
  addLearner(id: string, raftAddress: string): Promise<void>;
  promoteLearner(id: string): Promise<void>;
  removeMember(id: string): Promise<void>;
  transferLeadership(to?: string): Promise<boolean>;
}

const MAX_BODY_BYTES = 16 * 1024;

/**
 * POST /raft/members {id, raftAddress} adds a learner; POST /raft/members/ID/promote makes it a voter;
 * DELETE /raft/members/ID removes a member; POST /raft/transfer-leadership {to?} hands leadership over.
 * Bearer token required. Returns false when the path is not one of these.
 */
export async function routeClusterAdmin(request: IncomingMessage, response: ServerResponse, path: string, admin: ClusterAdmin, token: () => string): Promise<boolean> {
  const member = /^\/raft\/members\/([^/]+)(\/promote)?$/.exec(path);
  const known = path === '/raft/members' || path === '/raft/transfer-leadership' || member !== null;
  if (!known || request.method === 'GET' || request.method === 'HEAD') return false;
  if (!bearerMatches(request.headers.authorization, token())) {
    replyJson(response, 401, { message: 'missing or wrong bearer token: send Authorization: Bearer <contents of the api-token file>' });
    return true;
  }
  try {
    if (path === '/raft/members' && request.method === 'POST') {
      const body = await readJsonBody(request, MAX_BODY_BYTES);
      const id = checkedId(body['id']);
      const raftAddress = String(body['raftAddress'] ?? '');
      parseListenAddress(raftAddress, 'raftAddress');
      await admin.addLearner(id, raftAddress);
      replyJson(response, 200, { message: `${id} added as a learner; promote it once it has caught up` });
    } else if (member && member[2] && request.method === 'POST') {
      const id = checkedId(decodeURIComponent(member[1]!));
      await admin.promoteLearner(id);
      replyJson(response, 200, { message: `${id} is now a voter` });
    } else if (member && !member[2] && request.method === 'DELETE') {
      const id = checkedId(decodeURIComponent(member[1]!));
      await admin.removeMember(id);
      replyJson(response, 200, { message: `${id} removed from the cluster` });
    } else if (path === '/raft/transfer-leadership' && request.method === 'POST') {
      const body = await readJsonBody(request, MAX_BODY_BYTES);
      const to = body['to'] === undefined ? undefined : checkedId(body['to']);
      const done = await admin.transferLeadership(to);
      replyJson(response, done ? 200 : 409, { message: done ? 'leadership handed over' : 'leadership was not handed over (no caught-up voter, or not the leader)' });
    } else {
      replyJson(response, 405, { message: `method ${request.method} not allowed on ${path}` });
    }
  } catch (error) {
    if (error instanceof NotLeaderError) replyJson(response, 503, { message: error.message, leader: error.leaderHint });
    else if (error instanceof KeyleaseError) replyJson(response, error.code === 'BAD_REQUEST' || error.code === 'CONFIG' ? 400 : 409, { code: error.code, message: error.message });
    else throw error;
  }
  return true;
}

function checkedId(value: unknown): string {
  const id = String(value ?? '');
  if (poolNameProblem(id)) throw new KeyleaseError('BAD_REQUEST', `replica id ${JSON.stringify(id.slice(0, 63))} is not a DNS-1123 label`);
  return id;
}
