import { stringify } from 'yaml';

/**
 * YAML as the clients' parsers expect it: every string double-quoted (a bare `0x…` public key would read
 * as a hex integer), keys plain, no line folding of long paths.
 */
export function toYaml(value: unknown): string {
  return stringify(value, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 });
}
