/**
 * YAML as the clients' parsers expect it: block style, keys plain, every string double-quoted (a bare
 * `0x…` public key would read as a hex integer), no folding of long paths. The documents the agent writes
 * are small trees of maps, lists and scalars, so it writes them itself instead of loading a YAML library
 * into every validator pod. JSON's string escapes are a subset of YAML's double-quoted ones.
 */
export function toYaml(value: unknown): string {
  return `${block(value, '')}\n`;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function scalar(value: unknown): string | null {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as YAML`);
    return String(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value) && value.length === 0) return '[]';
  if (isMap(value) && Object.keys(value).length === 0) return '{}';
  if (Array.isArray(value) || isMap(value)) return null;
  const kind = typeof value === 'object' ? ((value as object).constructor?.name ?? 'null-prototype object') : typeof value;
  throw new TypeError(`cannot write a ${kind} as YAML`);
}

function isMap(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** `value` as lines at `indent`, without the first line's indentation (the caller places it). */
function block(value: unknown, indent: string): string {
  const text = scalar(value);
  if (text !== null) return text;
  if (Array.isArray(value)) return value.map((item) => `- ${block(item, `${indent}  `)}`).join(`\n${indent}`);
  return Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .map(([key, item]) => {
      const name = PLAIN_KEY.test(key) ? key : JSON.stringify(key);
      const inline = scalar(item);
      return inline !== null ? `${name}: ${inline}` : `${name}:\n${indent}  ${block(item, `${indent}  `)}`;
    })
    .join(`\n${indent}`);
}
