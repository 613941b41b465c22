/**
 * Structured, levelled logging: one JSON object per line on stderr.
 * Field names that usually carry secrets are replaced by "[redacted]" as a second line of defence; the
 * first is never passing a secret to a logger at all.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  readonly level: LogLevel;
}

const SECRET_FIELD = /(priv|secret|password|passphrase|mnemonic|kek|token|seed)/i;

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(name)) out[name] = '[redacted]';
    else if (value instanceof Error) out[name] = { name: value.name, message: value.message };
    else out[name] = value;
  }
  return out;
}

export type LogSink = (line: string) => void;

export function createLogger(options: { level: LogLevel; component: string; sink?: LogSink }): Logger {
  return build(options.level, { component: options.component }, options.sink ?? stderrSink());
}

let sharedStderrSink: LogSink | null = null;

/**
 * Lines written in one turn of the event loop go to stderr in one write: on a pipe every write is a
 * blocking system call, and a busy replica logs a line per claim. Whatever is pending is written when
 * the process exits, whatever the cause (short of SIGKILL).
 */
function stderrSink(): LogSink {
  if (sharedStderrSink) return sharedStderrSink;
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    process.stderr.write(text);
  };
  process.on('exit', flush);
  sharedStderrSink = (line) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(line + '\n');
  };
  return sharedStderrSink;
}

function build(level: LogLevel, base: LogFields, sink: LogSink): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (at: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(at) < threshold) return;
    const record = { time: new Date().toISOString(), level: at, ...base, msg, ...(fields ? redact(fields) : {}) };
    sink(JSON.stringify(record));
  };
  return {
    level,
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => build(level, { ...base, ...redact(fields) }, sink),
  };
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = build('error', {}, () => {});
