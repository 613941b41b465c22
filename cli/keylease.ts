type CommandMain = (argv: string[]) => Promise<void>;

/**
 * Each command is imported only once it is chosen: the agent, which runs in every validator pod, never
 * loads what the coordinator, the webhook or `dev` need (the Kubernetes client, ethers, Hardhat).
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {
  coordinator: { summary: 'run a coordinator replica', load: async () => (await import('../coordinator/main.js')).coordinatorMain },
  agent: { summary: 'run the sidecar agent of one validator pod', load: async () => (await import('../agent/main.js')).agentMain },
  dev: { summary: 'run a local coordinator and stand-in pods on embedded defaults', load: async () => (await import('./dev.js')).devMain },
  cluster: { summary: 'show or change the Raft membership of the coordinator replicas', load: async () => (await import('./cluster.js')).clusterMain },
  pool: { summary: 'list foreign keys, confirm them, or import slashing protection into the pool', load: async () => (await import('./pool.js')).poolMain },
  quarantine: { summary: 'list quarantined keys, or release them once their last pods can no longer sign', load: async () => (await import('./quarantine.js')).quarantineMain },
  webhook: { summary: 'run the admission webhook that injects the agent into annotated validator pods', load: async () => (await import('../coordinator/k8s/webhook/command.js')).webhookMain },
  'deposit-data': { summary: 'write keystores and deposit_data JSON for a mnemonic and index range', load: async () => (await import('./deposit-data.js')).depositDataMain },
  import: { summary: 'import EIP-2335 keystores into a stopped coordinator\'s pool', load: async () => (await import('../coordinator/import-main.js')).importMain },
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
  const main = await COMMANDS[name].load();
  await main(rest);
  // The command has shut down cleanly; do not wait for idle gRPC channels or stdin pipes to unwind.
  process.exit();
}
