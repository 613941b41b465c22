import { readFile } from 'node:fs/promises';
import { type CommandSpec } from '../shared/cli/flags.js';
import { ConfigError, KeyleaseError } from '../shared/errors/keylease-error.js';
import { requestJson, type JsonResponse } from '../shared/http/json-request.js';
import { runCommand } from '../shared/cli/run-command.js';

const ACTIONS = ['status', 'add-learner', 'promote', 'remove', 'transfer-leadership'] as const;
type Action = (typeof ACTIONS)[number];

const CLUSTER_COMMAND: CommandSpec = {
  name: 'cluster',
  summary: `Shows and changes the Raft membership: keylease cluster ${ACTIONS.join('|')} [flags]. To replace a dead replica: start the new one with --join, add-learner it, promote it once it has caught up, then remove the dead one. One change at a time.`,
  flags: [
    { name: 'http', kind: 'string', required: true, description: 'HTTP endpoints of the replicas, URL[,URL…]; the request goes to whichever leads. Replicas with TLS serve https://.' },
    { name: 'tls-ca-file', kind: 'string', description: 'PEM CA that signed the replicas\' certificates, to trust their https:// endpoints.' },
    { name: 'token-file', kind: 'string', description: 'File with the admin bearer token (the api-token.txt in a replica\'s data directory). Needed for changes.' },
    { name: 'id', kind: 'string', description: 'Replica id to add, promote or remove.' },
    { name: 'raft-address', kind: 'string', description: 'For add-learner: HOST:PORT of the new replica\'s Raft port.' },
    { name: 'to', kind: 'string', description: 'For transfer-leadership: the voter to hand over to (default: any caught-up one).' },
  ],
};

/** `keylease cluster ACTION`: a small HTTP client of the replicas' admin endpoints. */
export function clusterMain(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith('-')) return runCommand(CLUSTER_COMMAND, action === undefined ? ['--help'] : argv, async () => {});
  return runCommand(CLUSTER_COMMAND, rest, async (values) => {
    if (!(ACTIONS as readonly string[]).includes(action)) throw new ConfigError(`unknown action ${JSON.stringify(action)}: use one of ${ACTIONS.join(', ')}`);
    const urls = (values['http'] as string).split(',').map((u) => u.trim().replace(/\/$/, '')).filter(Boolean);
    const caFile = values['tls-ca-file'] as string | undefined;
    const caPem = caFile ? await readFile(caFile).catch((cause) => { throw new ConfigError(`cannot read --tls-ca-file ${caFile}`, { cause }); }) : null;
    if (action === 'status') return printStatus(urls, caPem);
    const tokenFile = values['token-file'] as string | undefined;
    if (!tokenFile) throw new ConfigError(`--token-file is needed to ${action}`);
    const token = (await readFile(tokenFile, 'utf8').catch((cause) => { throw new ConfigError(`cannot read --token-file ${tokenFile}`, { cause }); })).trim();
    const id = values['id'] as string | undefined;
    if (action !== 'transfer-leadership' && !id) throw new ConfigError(`--id is needed to ${action}`);
    const request = requestFor(action as Exclude<Action, 'status'>, id, values['raft-address'] as string | undefined, values['to'] as string | undefined);
    const answer = await sendToLeader(urls, token, request, caPem);
    process.stdout.write(answer.message + '\n');
  });
}

function requestFor(action: Exclude<Action, 'status'>, id: string | undefined, raftAddress: string | undefined, to: string | undefined): { method: string; path: string; body?: unknown } {
  switch (action) {
    case 'add-learner':
      if (!raftAddress) throw new ConfigError('--raft-address is needed to add a learner');
      return { method: 'POST', path: '/raft/members', body: { id, raftAddress } };
    case 'promote':
      return { method: 'POST', path: `/raft/members/${encodeURIComponent(id!)}/promote` };
    case 'remove':
      return { method: 'DELETE', path: `/raft/members/${encodeURIComponent(id!)}` };
    case 'transfer-leadership':
      return { method: 'POST', path: '/raft/transfer-leadership', body: to ? { to } : {} };
  }
}

/** Tries each replica; followers answer 503 and the next one is asked. Resolves with the leader's JSON answer. */
export async function sendToLeader<T = { message: string }>(urls: string[], token: string, request: { method: string; path: string; body?: unknown }, caPem: Buffer | null): Promise<T> {
  const problems: string[] = [];
  for (const url of urls) {
    let response: JsonResponse;
    try {
      response = await requestJson(url + request.path, { method: request.method, headers: { authorization: `Bearer ${token}` }, body: request.body, caPem, timeoutMs: 30_000 });
    } catch (error) {
      problems.push(`${url}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const answer = parseAnswer(response);
    if (response.status === 503) {
      problems.push(`${url}: not the leader`);
      continue;
    }
    if (response.status < 200 || response.status > 299) throw new KeyleaseError('CLUSTER_REFUSED', `${url} refused: ${answer.message}`);
    return answer as T;
  }
  throw new KeyleaseError('CLUSTER_UNREACHABLE', `no replica took the request (${problems.join('; ')}): is a leader elected? check keylease cluster status`);
}

function parseAnswer(response: JsonResponse): { message: string } {
  try {
    return JSON.parse(response.text) as { message: string };
  } catch {
    return { message: `HTTP ${response.status}` };
  }
}

async function printStatus(urls: string[], caPem: Buffer | null): Promise<void> {
  const rows = await Promise.all(
    urls.map(async (url) => {
      try {
        const response = await requestJson(`${url}/raft/status`, { caPem, timeoutMs: 5000 });
        const s = JSON.parse(response.text) as { replicaId: string; role: string; lead: string | null; term: number; commit: number; applied: number; confState: { voters: string[]; learners: string[] } };
        return `${s.replicaId.padEnd(10)} ${s.role.padEnd(12)} term ${String(s.term).padEnd(6)} commit ${String(s.commit).padEnd(8)} applied ${String(s.applied).padEnd(8)} leader ${s.lead ?? '-'}  voters ${s.confState.voters.join(',')}${s.confState.learners.length ? `  learners ${s.confState.learners.join(',')}` : ''}  (${url})`;
      } catch (error) {
        return `unreachable  ${url}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }),
  );
  process.stdout.write(rows.join('\n') + '\n');
}
