import { readFile } from 'node:fs/promises';
import solc from 'solc';

/**
 * Compiles DepositContract.sol with solc-js (the compiler ships inside the npm package: nothing is
 * downloaded). Only the artifact writer and its test use this; the product loads the committed artifact.
 */
export const DEPOSIT_CONTRACT_SOURCE = new URL('./DepositContract.sol', import.meta.url);
/** Shanghai: the newest target every local EVM we use (EDR, ganache) accepts; no later opcode is needed. */
export const EVM_VERSION = 'shanghai';

export interface CompiledContract {
  readonly solcVersion: string;
  readonly evmVersion: string;
  readonly abi: readonly unknown[];
  readonly bytecode: string;
}

export async function compileDepositContract(): Promise<CompiledContract> {
  const input = {
    language: 'Solidity',
    sources: { 'DepositContract.sol': { content: await readFile(DEPOSIT_CONTRACT_SOURCE, 'utf8') } },
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { 'DepositContract.sol': { DepositContract: ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error(`DepositContract.sol does not compile:\n${errors.map((e) => e.formattedMessage).join('\n')}`);
  const contract = output.contracts['DepositContract.sol']!['DepositContract']!;
  return { solcVersion: solc.version() as string, evmVersion: EVM_VERSION, abi: contract.abi, bytecode: '0x' + contract.evm.bytecode.object };
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}
