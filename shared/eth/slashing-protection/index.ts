/** EIP-3076 slashing-protection interchange (format version 5): parse, check, merge, select. */
export { SlashingProtectionError, type SlashingProtectionErrorCode } from './errors.js';
export { emptyInterchange, INTERCHANGE_FORMAT_VERSION, serializeInterchange, type Interchange, type InterchangeRecord, type SignedAttestation, type SignedBlock } from './interchange.js';
export { parseInterchange } from './parse.js';
export { checkInterchangeFor } from './check.js';
export { mergeInterchanges } from './merge.js';
export { interchangeFor } from './select.js';
export { watermarks, watermarksByKey, type Watermarks } from './watermarks.js';
