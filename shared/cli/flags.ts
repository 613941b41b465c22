import { ConfigError } from '../errors/keylease-error.js';

/**
 * Command-line flags with Kubernetes-style environment twins: `--lease-ttl-ms` is also read from
 * `KEYLEASE_LEASE_TTL_MS`. A flag on the command line wins over its environment variable.
 */
export type FlagKind = 'string' | 'int' | 'bool';

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly description: string;
  readonly default?: string | number | boolean;
  readonly required?: boolean;
  /** For int flags: allowed range. */
  readonly min?: number;
  readonly max?: number;
  /** For string flags: allowed values. */
  readonly choices?: readonly string[];
  /** Single-letter alias, e.g. `v`. For bool flags only. */
  readonly short?: string;
}

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
}

export type FlagValues = Record<string, string | number | boolean | undefined>;

export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help requested');
  }
}

export const envName = (flag: string) => 'KEYLEASE_' + flag.toUpperCase().replace(/-/g, '_');

export function parseFlags(command: CommandSpec, argv: readonly string[], env: NodeJS.ProcessEnv): FlagValues {
  const byName = new Map(command.flags.map((f) => [f.name, f]));
  const byShort = new Map(command.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const raw = new Map<string, string>();

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') throw new HelpRequested(usage(command));
    if (/^-[a-zA-Z]$/.test(arg)) {
      const flag = byShort.get(arg.slice(1));
      if (!flag) throw new ConfigError(`unknown flag ${arg} for 'keylease ${command.name}': see 'keylease ${command.name} --help'`);
      raw.set(flag.name, 'true');
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} for 'keylease ${command.name}': flags look like --name value`);
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (value === undefined && name.startsWith('no-') && byName.get(name.slice(3))?.kind === 'bool') {
      name = name.slice(3);
      value = 'false';
    }
    const flag = byName.get(name);
    if (!flag) throw new ConfigError(`unknown flag --${name} for 'keylease ${command.name}': see 'keylease ${command.name} --help'`);
    if (value === undefined) {
      if (flag.kind === 'bool') value = 'true';
      else {
        value = argv[++i];
        if (value === undefined) throw new ConfigError(`flag --${name} needs a value`);
      }
    }
    raw.set(name, value);
  }

  const values: FlagValues = {};
  for (const flag of command.flags) {
    const fromEnv = env[envName(flag.name)];
    const text = raw.get(flag.name) ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
    const source = raw.has(flag.name) ? `--${flag.name}` : envName(flag.name);
    if (text === undefined) {
      if (flag.required) throw new ConfigError(`--${flag.name} is required (or set ${envName(flag.name)}): ${flag.description}`);
      values[flag.name] = flag.default;
      continue;
    }
    values[flag.name] = convert(flag, text, source);
  }
  return values;
}

function convert(flag: FlagSpec, text: string, source: string): string | number | boolean {
  switch (flag.kind) {
    case 'bool':
      if (['true', '1', 'yes'].includes(text)) return true;
      if (['false', '0', 'no'].includes(text)) return false;
      throw new ConfigError(`${source} must be true or false, not ${JSON.stringify(text)}`);
    case 'int': {
      const value = Number(text);
      if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) throw new ConfigError(`${source} must be a whole number, not ${JSON.stringify(text)}`);
      if ((flag.min !== undefined && value < flag.min) || (flag.max !== undefined && value > flag.max)) {
        throw new ConfigError(`${source} is ${value}; it must be between ${flag.min ?? '-∞'} and ${flag.max ?? '∞'}`);
      }
      return value;
    }
    case 'string':
      if (flag.choices && !flag.choices.includes(text)) {
        throw new ConfigError(`${source} is ${JSON.stringify(text)}; use one of ${flag.choices.join(', ')}`);
      }
      return text;
  }
}

export function usage(command: CommandSpec): string {
  const lines = [`Usage: keylease ${command.name} [flags]`, '', command.summary, '', 'Flags (each also read from the environment variable shown):'];
  for (const flag of command.flags) {
    const value = flag.kind === 'bool' ? '' : flag.choices ? ` ${flag.choices.join('|')}` : flag.kind === 'int' ? ' N' : ' VALUE';
    const short = flag.short ? `-${flag.short}, ` : '';
    lines.push(`  ${short}--${flag.name}${value}`);
    const dflt = flag.default !== undefined ? ` (default ${JSON.stringify(flag.default)})` : flag.required ? ' (required)' : '';
    lines.push(`      ${flag.description}${dflt}  [${envName(flag.name)}]`);
  }
  lines.push('  -h, --help', '      Show this help.');
  return lines.join('\n') + '\n';
}

/** Common to every command. */
export const LOG_LEVEL_FLAGS: readonly FlagSpec[] = [
  { name: 'log-level', kind: 'string', choices: ['debug', 'info', 'warn', 'error'], default: 'info', description: 'Least severe log level written.' },
  { name: 'verbose', short: 'v', kind: 'bool', default: false, description: 'Same as --log-level debug.' },
];

export function logLevelOf(values: FlagValues): 'debug' | 'info' | 'warn' | 'error' {
  return values['verbose'] ? 'debug' : (values['log-level'] as 'debug' | 'info' | 'warn' | 'error');
}

/** Parses HOST:PORT (port 0 asks the OS for a free port). */
export function parseListenAddress(value: string, flagName: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`--${flagName} ${JSON.stringify(value)} is not HOST:PORT (e.g. 127.0.0.1:7400; port 0 picks a free one)`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
