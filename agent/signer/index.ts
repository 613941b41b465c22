/** The agent as the validator client's remote signer (ethereum/remote-signing-api), with in-agent EIP-3076 protection. */
export { SignerError, type SignerErrorCode } from './errors.js';
export { InAgentSigner, type InAgentSignerOptions, type KeyToSignWith } from './in-agent-signer.js';
export { SignerKeyHolder } from './key-holder.js';
export { startRemoteSignerServer, type RemoteSignerServerOptions } from './http-server.js';
export { PRESET_NAMES, type PresetName } from '../../shared/eth/consensus-preset.js';
