import { type CommandSpec } from '../shared/cli/flags.js';
import { ConfigError, KeyleaseError } from '../shared/errors/keylease-error.js';
import { requestJson } from '../shared/http/json-request.js';
import { ADMIN_ACCESS_FLAGS, adminAccess } from './admin-access.js';
import { sendToLeader } from './cluster.js';
import { runCommand } from '../shared/cli/run-command.js';

const ACTIONS = ['list', 'release'] as const;

const QUARANTINE_COMMAND: CommandSpec = {
  name: 'quarantine',
  summary:
    'Lists quarantined keys, or releases some: keylease quarantine list|release [flags]. A key is quarantined when nothing proves its last pod stopped signing; release it only once you have made sure that pod can no longer sign (its node is off, its client no longer holds the key). Its next holder still gets watermarks from the clock.',
  flags: [
    ...ADMIN_ACCESS_FLAGS,
    { name: 'pubkey', kind: 'string', description: 'For release: the quarantined public keys, 0x…[,0x…].' },
    { name: 'confirm', kind: 'bool', default: false, description: 'For release: required, to say the last holders can no longer sign.' },
  ],
};

/** `keylease quarantine ACTION`: the operator's view of quarantined keys, and the deliberate release. */
export function quarantineMain(argv: string[]): Promise<void> {
  const [action, ...rest] = argv;
  if (action === undefined || action.startsWith('-')) return runCommand(QUARANTINE_COMMAND, action === undefined ? ['--help'] : argv, async () => {});
  return runCommand(QUARANTINE_COMMAND, rest, async (values) => {
    if (!(ACTIONS as readonly string[]).includes(action)) throw new ConfigError(`unknown action ${JSON.stringify(action)}: use one of ${ACTIONS.join(', ')}`);
    const { urls, caPem, token } = await adminAccess(values);
    if (action === 'list') {
      const response = await requestJson(`${urls[0]}/admin/quarantine`, { headers: { authorization: `Bearer ${token}` }, caPem, timeoutMs: 10_000 });
      if (response.status !== 200) throw new KeyleaseError('QUARANTINE_REFUSED', `${urls[0]} answered ${response.status}: ${response.text.trim()}`);
      const { data } = JSON.parse(response.text) as { data: Array<{ pubKey: string; podName: string; podUid: string | null; cause: string; sinceMs: number }> };
      process.stdout.write(data.length === 0 ? 'no key is quarantined\n' : data.map((k) => `${k.pubKey}  last holder ${k.podName}${k.podUid ? ` (${k.podUid})` : ''}  ${k.cause}  since ${new Date(k.sinceMs).toISOString()}`).join('\n') + '\n');
      return;
    }
    const pubKeys = String(values['pubkey'] ?? '').split(',').map((k) => k.trim()).filter(Boolean);
    if (pubKeys.length === 0) throw new ConfigError('--pubkey is needed to release: the quarantined keys, 0x…[,0x…]');
    if (!values['confirm']) throw new ConfigError('release needs --confirm: make sure the keys\' last pods can no longer sign (node off, client without the keys) first');
    const answer = await sendToLeader(urls, token, { method: 'POST', path: '/admin/quarantine/release', body: { pubkeys: pubKeys, confirm: 'the holders stopped signing' } }, caPem);
    process.stdout.write(`released ${(answer as unknown as { released: string[] }).released.length} keys\n`);
  });
}
