import * as crypto from 'node:crypto';
import { SszError } from './errors.js';

/**
 * Merkleization (consensus-specs ssz/simple-serialize.md) over node:crypto's SHA-256. Chunks are 32 bytes,
 * kept side by side in one array, so each pair is hashed straight from its place without a copy.
 */
export const CHUNK = 32;

/** crypto.hash hashes in one call, about twice as fast as createHash; Node 20 has it from 20.12 on. */
const sha256: (data: Uint8Array) => Uint8Array =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'buffer') : (data) => crypto.createHash('sha256').update(data).digest();

const pair = new Uint8Array(2 * CHUNK);
const pairView = new DataView(pair.buffer);

function sha256Pair(left: Uint8Array, right: Uint8Array): Uint8Array {
  pair.set(left, 0);
  pair.set(right, CHUNK);
  return sha256(pair);
}

/** zeroHashes[d]: the root of a tree of depth d whose leaves are all zero chunks. */
const zeroHashes: Uint8Array[] = [new Uint8Array(CHUNK)];

function zeroHash(depth: number): Uint8Array {
  while (zeroHashes.length <= depth) {
    const below = zeroHashes[zeroHashes.length - 1]!;
    zeroHashes.push(sha256Pair(below, below));
  }
  return zeroHashes[depth]!;
}

/** The depth of a tree with room for `chunkLimit` leaves: log2 of next_pow_of_two(chunkLimit). */
function depthFor(chunkLimit: number): number {
  return chunkLimit <= 1 ? 0 : 32 - Math.clz32(chunkLimit - 1);
}

/**
 * merkleize(chunks, limit): the root of the chunks as leaves of a tree padded with zero chunks to the next
 * power of two of `chunkLimit`. Padding is never built: a missing right node at level d is zeroHash(d).
 * The root may share memory with `chunks` or the zero hashes: copy it out, never write to it.
 */
export function merkleize(chunks: Uint8Array, chunkLimit: number): Uint8Array {
  let width = chunks.length / CHUNK;
  if (width > chunkLimit) throw new SszError(`${width} chunks exceed the limit of ${chunkLimit}`);
  const depth = depthFor(chunkLimit);
  if (width === 0) return zeroHash(depth);
  let layer = chunks;
  for (let level = 0; level < depth; level += 1) {
    const pairs = width >> 1;
    const next = new Uint8Array((pairs + (width & 1)) * CHUNK);
    for (let i = 0; i < pairs; i += 1) next.set(sha256(layer.subarray(i * 2 * CHUNK, (i + 1) * 2 * CHUNK)), i * CHUNK);
    if (width & 1) next.set(sha256Pair(layer.subarray((width - 1) * CHUNK, width * CHUNK), zeroHash(level)), pairs * CHUNK);
    layer = next;
    width = pairs + (width & 1);
  }
  return layer.subarray(0, CHUNK);
}

/** mix_in_length: a list's root is its contents' root hashed with its length as a uint256 chunk. */
export function mixInLength(root: Uint8Array, length: number): Uint8Array {
  pair.set(root, 0);
  pair.fill(0, CHUNK);
  pairView.setUint32(CHUNK, length % 2 ** 32, true);
  pairView.setUint32(CHUNK + 4, Math.floor(length / 2 ** 32), true);
  return sha256(pair);
}

/** pack: bytes into chunks, the last one right-padded with zeros. */
export function pack(bytes: Uint8Array): Uint8Array {
  const chunks = new Uint8Array(Math.ceil(bytes.length / CHUNK) * CHUNK);
  chunks.set(bytes);
  return chunks;
}
