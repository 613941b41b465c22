/**
 * A key's sealed secret is stored and sent (commands, snapshots, claims' results) as text: `v1:` or
 * `v2:` and the sealed bytes in base64. In memory the core holds the same bytes in a one-byte string,
 * a character per byte, after one character naming the version: three quarters of the size, and the
 * sealed secrets are most of a pool's state (about 64 of 120 MB at 100,000 keys). The two forms
 * convert exactly, both ways; text in any other form is held as it is (after a NUL if it starts with a
 * character the held form uses as its version, so that it cannot be taken for one).
 */
const VERSION_BYTES: Readonly<Record<string, number>> = { v1: 1, v2: 2 };
const VERSION_NAMES = ['', 'v1', 'v2'];
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The form the core holds of a sealed secret's text. */
export function heldSealedSecret(text: string): string {
  if (text.charCodeAt(0) < VERSION_NAMES.length) return `\0${text}`;
  const colon = text.indexOf(':');
  const version = VERSION_BYTES[text.slice(0, colon)];
  const payload = text.slice(colon + 1);
  if (colon === -1 || version === undefined || payload === '' || !BASE64.test(payload)) return text;
  const bytes = Buffer.from(payload, 'base64');
  // Base64 with stray bits or padding would not come back the same: such text is held as it is.
  if (bytes.toString('base64') !== payload) return text;
  const held = Buffer.allocUnsafe(bytes.length + 1);
  held[0] = version;
  bytes.copy(held, 1);
  // One flat one-byte string (a concatenation would be a rope of two).
  return held.toString('latin1');
}

/** The text of a sealed secret, whichever form it is held in. */
export function sealedSecretText(held: string): string {
  const version = VERSION_NAMES[held.charCodeAt(0)];
  if (version === undefined) return held;
  if (version === '') return held.slice(1);
  return `${version}:${Buffer.from(held, 'latin1').subarray(1).toString('base64')}`;
}
