import type { CompiledContract } from './compile.js';

/** The text of artifact.ts for a compilation; the artifact test renders and compares it byte for byte. */
export function renderArtifactModule(compiled: CompiledContract): string {
  return `// Generated from DepositContract.sol by write-artifact.ts: do not edit by hand.
export const DEPOSIT_CONTRACT_ARTIFACT = {
  solcVersion: ${JSON.stringify(compiled.solcVersion)},
  evmVersion: ${JSON.stringify(compiled.evmVersion)},
  abi: ${JSON.stringify(compiled.abi, null, 2).replace(/\n/g, '\n  ')},
  bytecode: ${JSON.stringify(compiled.bytecode)},
} as const;
`;
}
