/**
 * Applies RFC 6902 `add` operations the way the API server does, failing where it would fail (a parent
 * that does not exist, an index out of range), so a patch that passes here is one the server accepts.
 */
export function applyJsonPatch<T>(document: T, patch: ReadonlyArray<{ op: string; path: string; value?: unknown }>): T {
  const result = structuredClone(document) as unknown;
  for (const operation of patch) {
    if (operation.op !== 'add') throw new Error(`only add is supported, got ${operation.op}`);
    const tokens = operation.path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop();
    if (last === undefined) throw new Error('cannot add at the document root');
    let parent = result as Record<string, unknown> | unknown[];
    for (const token of tokens) {
      const next = Array.isArray(parent) ? parent[Number(token)] : parent[token];
      if (typeof next !== 'object' || next === null) throw new Error(`${operation.path}: ${token} does not exist`);
      parent = next as Record<string, unknown> | unknown[];
    }
    const value = structuredClone(operation.value);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`${operation.path}: index out of range`);
      parent.splice(index, 0, value);
    } else {
      parent[last] = value;
    }
  }
  return result as T;
}
