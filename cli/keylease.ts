import { agentMain } from '../agent/main.js';
import { coordinatorMain } from '../coordinator/main.js';
import { importMain } from '../coordinator/import-main.js';
import { clusterMain } from './cluster.js';
import { poolMain } from './pool.js';
import { quarantineMain } from './quarantine.js';
import { depositDataMain } from './deposit-data.js';
import { webhookMain } from '../coordinator/k8s/webhook/command.js';
import { devMain } from './dev.js';

const COMMANDS: Record<string, { summary: string; main: (argv: string[]) => Promise<void> }> = {
  coordinator: { summary: 'run a coordinator replica', main: coordinatorMain },
  agent: { summary: 'run the sidecar agent of one validator pod', main: agentMain },
  dev: { summary: 'run a local coordinator and stand-in pods on embedded defaults', main: devMain },
  cluster: { summary: 'show or change the Raft membership of the coordinator replicas', main: clusterMain },
  pool: { summary: 'list foreign keys, confirm them, or import slashing protection into the pool', main: poolMain },
  quarantine: { summary: 'list quarantined keys, or release them once their last pods can no longer sign', main: quarantineMain },
  webhook: { summary: 'run the admission webhook that injects the agent into annotated validator pods', main: webhookMain },
  'deposit-data': { summary: 'write keystores and deposit_data JSON for a mnemonic and index range', main: depositDataMain },
  import: { summary: 'import EIP-2335 keystores into a stopped coordinator\'s pool', main: importMain },
};

const HELP = `keylease hands Ethereum validator keys to validator pods and takes them back,
never letting one key sign in two places.

Usage: keylease <command> [flags]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)} ${c.summary}`).join('\n')}

Run 'keylease <command> --help' for its flags. Every flag can also be set with an
environment variable: --lease-ttl-ms is KEYLEASE_LEASE_TTL_MS.
`;

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(HELP);
} else if (!COMMANDS[name]) {
  process.stderr.write(`keylease: unknown command ${JSON.stringify(name)}; commands are ${Object.keys(COMMANDS).join(', ')} (see keylease --help)\n`);
  process.exitCode = 2;
} else {
  await COMMANDS[name].main(rest);
  // The command has shut down cleanly; do not wait for idle gRPC channels or stdin pipes to unwind.
  process.exit();
}
