/** One RFC 6902 operation; injection only ever adds. */
export interface JsonPatchAdd {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

/** Escapes one reference token of a JSON Pointer (RFC 6901): `~` → `~0`, `/` → `~1`. */
export const pointerToken = (token: string) => token.replace(/~/g, '~0').replace(/\//g, '~1');

/** Appends to an array that may not exist yet: creates it with the items, or adds each at its end. */
export function appendAll(path: string, existing: readonly unknown[] | undefined, items: readonly unknown[]): JsonPatchAdd[] {
  if (items.length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: [...items] }];
  return items.map((value) => ({ op: 'add', path: `${path}/-`, value }));
}
