export { bitListFromBytes, bitVectorFromBytes, serializedBitsSize } from './bits.js';
export { SszError } from './errors.js';
export { hashTreeRoot } from './hash-tree-root.js';
export * from './types.js';
