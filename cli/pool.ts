import { readFile } from 'node:fs/promises';
import { type CommandSpec } from '../shared/cli/flags.js';
import { ConfigError } from '../shared/errors/keylease-error.js';
import { ADMIN_ACCESS_FLAGS, adminAccess } from './admin-access.js';
import { sendToLeader } from './cluster.js';
import { runCommand } from '../shared/cli/run-command.js';

const ACTIONS = ['foreign', 'confirm-foreign', 'import-protection'] as const;
type Action = (typeof ACTIONS)[number];

const POOL_COMMAND: CommandSpec = {
  name: 'pool',
  summary:
    `Operator actions on the pool: keylease pool ${ACTIONS.join('|')} [flags]. foreign lists keys found in use on chain before the pool recorded them ` +
    '(not handed out); import-protection merges an EIP-3076 file into keys of the pool (watermarks only go up; a foreign key with its protection may be handed out); ' +
    'confirm-foreign hands foreign keys out without protection, on your word that they sign nowhere else.',
  flags: [
    ...ADMIN_ACCESS_FLAGS,
    { name: 'file', kind: 'string', description: 'For import-protection: the EIP-3076 interchange file (a validator client\'s slashing protection export).' },
    { name: 'pubkeys', kind: 'string', description: 'For confirm-foreign: the keys to confirm, 0x…[,0x…].' },
  ],
};

/** `keylease pool ACTION`: a small HTTP client of the coordinator's admin endpoints for the pool. */
export function poolMain(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith('-')) return runCommand(POOL_COMMAND, action === undefined ? ['--help'] : argv, async () => {});
  return runCommand(POOL_COMMAND, rest, async (values) => {
    if (!(ACTIONS as readonly string[]).includes(action)) throw new ConfigError(`unknown action ${JSON.stringify(action)}: use one of ${ACTIONS.join(', ')}`);
    const { urls, caPem, token } = await adminAccess(values);
    const request = await requestFor(action as Action, values['file'] as string | undefined, values['pubkeys'] as string | undefined);
    const answer = await sendToLeader<{ data: Array<Record<string, unknown>> }>(urls, token, request, caPem);
    process.stdout.write(render(action as Action, answer.data) + '\n');
  });
}

async function requestFor(action: Action, file: string | undefined, pubkeys: string | undefined): Promise<{ method: string; path: string; body?: unknown }> {
  switch (action) {
    case 'foreign':
      return { method: 'GET', path: '/foreign-keys' };
    case 'confirm-foreign': {
      const list = (pubkeys ?? '').split(',').map((p) => p.trim()).filter(Boolean);
      if (list.length === 0) throw new ConfigError('--pubkeys is needed to confirm-foreign: the keys you confirm sign nowhere else');
      return { method: 'POST', path: '/foreign-keys/confirm', body: { pubkeys: list } };
    }
    case 'import-protection': {
      if (!file) throw new ConfigError('--file is needed to import-protection: the EIP-3076 interchange file');
      const text = await readFile(file, 'utf8').catch((cause) => { throw new ConfigError(`cannot read --file ${file}`, { cause }); });
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new ConfigError(`--file ${file} is not JSON: give an EIP-3076 interchange file`);
      }
      return { method: 'POST', path: '/slashing-protection', body };
    }
  }
}

function render(action: Action, rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return action === 'foreign' ? 'no foreign keys' : 'nothing changed';
  return rows
    .map((row) => {
      if (action === 'foreign') return `${row['pubkey']}  ${row['derivation_path']}  deposit ${row['deposit_tx_hash'] ?? '-'} (block ${row['deposit_block_number'] ?? '-'})  beacon ${row['beacon_status'] ?? '-'}`;
      if (action === 'confirm-foreign') return `${row['pubkey']}  confirmed: may be handed out`;
      const after = row['after'] as Record<string, string | null>;
      return `${row['pubkey']}  ${row['status']}  block slot ${after['block_slot'] ?? '-'}, source epoch ${after['source_epoch'] ?? '-'}, target epoch ${after['target_epoch'] ?? '-'}${row['foreign_cleared'] ? '  (was foreign: may be handed out)' : ''}`;
    })
    .join('\n');
}
