import { createHash } from 'node:crypto';

/**
 * SSZ hash_tree_root written out from the SSZ specification with node:crypto only, to check the signer's
 * roots (computed by agent/signer/ssz) against an implementation that shares no code with it.
 * Values are the remote signing API's JSON: decimal strings and 0x hex.
 */
export type Schema =
  | 'uint64'
  | 'uint256'
  | { readonly bytes: number }
  | { readonly byteList: number }
  | { readonly bitList: number }
  | { readonly bitVector: number }
  | { readonly list: Schema; readonly limit: number }
  | { readonly vector: Schema; readonly length: number }
  | { readonly fields: ReadonlyArray<readonly [string, Schema]> };

const ZERO = Buffer.alloc(32);

export function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

const zeroHashes: Buffer[] = [ZERO];
function zeroHash(depth: number): Buffer {
  while (zeroHashes.length <= depth) zeroHashes.push(sha256(zeroHashes[zeroHashes.length - 1]!, zeroHashes[zeroHashes.length - 1]!));
  return zeroHashes[depth]!;
}

/** merkleize(chunks, limit): the chunks padded with zero chunks to the next power of two of `limit`. */
export function merkleize(chunks: Buffer[], limit: number): Buffer {
  if (chunks.length > limit) throw new Error(`${chunks.length} chunks exceed the limit ${limit}`);
  let depth = 0;
  while (2 ** depth < limit) depth += 1;
  let layer = chunks;
  for (let level = 0; level < depth; level += 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < layer.length; i += 2) next.push(sha256(layer[i]!, layer[i + 1] ?? zeroHash(level)));
    layer = next;
  }
  return layer[0] ?? zeroHash(depth);
}

function mixInLength(root: Buffer, length: number): Buffer {
  const chunk = Buffer.alloc(32);
  chunk.writeBigUInt64LE(BigInt(length));
  return sha256(root, chunk);
}

function pack(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 32) {
    const chunk = Buffer.alloc(32);
    bytes.copy(chunk, 0, i, Math.min(i + 32, bytes.length));
    chunks.push(chunk);
  }
  return chunks;
}

function uint(value: unknown, bytes: number): Buffer {
  const chunk = Buffer.alloc(32);
  let n = BigInt(value as string);
  for (let i = 0; i < bytes; i += 1) {
    chunk[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return chunk;
}

function hexBytes(value: unknown): Buffer {
  return Buffer.from((value as string).slice(2), 'hex');
}

export function hashTreeRoot(schema: Schema, value: unknown): Buffer {
  if (schema === 'uint64') return uint(value, 8);
  if (schema === 'uint256') return uint(value, 32);
  if ('bytes' in schema) return merkleize(pack(hexBytes(value)), Math.ceil(schema.bytes / 32));
  if ('byteList' in schema) {
    const bytes = hexBytes(value);
    return mixInLength(merkleize(pack(bytes), Math.ceil(schema.byteList / 32)), bytes.length);
  }
  if ('bitVector' in schema) return merkleize(pack(hexBytes(value)), Math.ceil(schema.bitVector / 256));
  if ('bitList' in schema) {
    // The highest set bit of the last byte marks the length; it is not part of the list.
    const bytes = hexBytes(value);
    const last = bytes[bytes.length - 1]!;
    const bitLength = (bytes.length - 1) * 8 + (31 - Math.clz32(last));
    const bits = Buffer.from(bytes);
    bits[bits.length - 1] = last ^ (1 << (31 - Math.clz32(last)));
    return mixInLength(merkleize(pack(bits.subarray(0, Math.ceil(bitLength / 8))), Math.ceil(schema.bitList / 256)), bitLength);
  }
  if ('list' in schema) {
    const items = value as unknown[];
    if (schema.list === 'uint64') {
      const bytes = Buffer.concat(items.map((item) => uint(item, 8).subarray(0, 8)));
      return mixInLength(merkleize(pack(bytes), Math.ceil((schema.limit * 8) / 32)), items.length);
    }
    return mixInLength(merkleize(items.map((item) => hashTreeRoot(schema.list, item)), schema.limit), items.length);
  }
  if ('vector' in schema) return merkleize((value as unknown[]).map((item) => hashTreeRoot(schema.vector, item)), schema.length);
  const object = value as Record<string, unknown>;
  return merkleize(
    schema.fields.map(([name, field]) => hashTreeRoot(field, object[name])),
    schema.fields.length,
  );
}

/** compute_domain and compute_signing_root (consensus-specs phase0), by hand. */
export function signingRootByHand(objectRoot: Uint8Array, domainType: string, forkVersion: string, genesisValidatorsRoot: string): string {
  const version = Buffer.alloc(32);
  hexBytes(forkVersion).copy(version);
  const forkDataRoot = sha256(version, hexBytes(genesisValidatorsRoot));
  const domain = Buffer.concat([Buffer.from(domainType, 'hex'), forkDataRoot.subarray(0, 28)]);
  return '0x' + sha256(objectRoot, domain).toString('hex');
}
