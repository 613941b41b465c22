import { HelpRequested, parseFlags, type CommandSpec, type FlagValues } from './flags.js';
import { ConfigError, KeyleaseError } from '../errors/keylease-error.js';

/**
 * Parses flags, runs the command, and turns failures into a one-line message and an exit code:
 * 2 for bad flags or configuration, 1 for anything else. Messages never carry secrets.
 */
export async function runCommand(spec: CommandSpec, argv: readonly string[], run: (values: FlagValues) => Promise<void>): Promise<void> {
  try {
    await run(parseFlags(spec, argv, process.env));
  } catch (error) {
    if (error instanceof HelpRequested) {
      process.stdout.write(error.text);
      return;
    }
    if (error instanceof KeyleaseError) {
      process.stderr.write(`keylease ${spec.name}: ${error.message}\n`);
      process.exitCode = error instanceof ConfigError || isConfigLike(error) ? 2 : 1;
      return;
    }
    process.stderr.write(`keylease ${spec.name}: unexpected failure: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

function isConfigLike(error: KeyleaseError): boolean {
  return /^(KEK_|MNEMONIC_|LAYOUT|STORAGE_VERSION|KEYSTORE_)/.test(error.code);
}

/** Set by `keylease dev` on the processes it starts: they stop when dev's stdin pipe closes. */
export const STOP_WITH_PARENT_ENV = 'KEYLEASE_STOP_WITH_PARENT';

/** Resolves on the first SIGINT or SIGTERM (or, under `dev`, when the parent goes); a second signal exits at once. */
export function shutdownSignal(): Promise<NodeJS.Signals | 'parent-exit'> {
  return new Promise((resolve) => {
    if (process.env[STOP_WITH_PARENT_ENV] === '1') {
      process.stdin.on('data', () => {});
      process.stdin.once('close', () => resolve('parent-exit'));
    }
    const onSignal = (signal: NodeJS.Signals) => {
      process.once(signal, () => process.exit(130));
      resolve(signal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
}
