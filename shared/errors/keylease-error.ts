/**
 * Base of every error a user may see. `code` is a stable machine-readable tag; `message` says what was
 * wrong and what to do about it, and never contains a secret.
 */
export class KeyleaseError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad configuration or flags: the process cannot start. Exit code 2 by convention. */
export class ConfigError extends KeyleaseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIG', message, options);
  }
}
