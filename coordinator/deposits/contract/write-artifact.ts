/**
 * Regenerates artifact.ts from DepositContract.sol. Run after editing the contract:
 *   npx tsx coordinator/deposits/contract/write-artifact.ts
 * test/unit/deposit-contract-artifact.test.ts fails while the committed artifact is stale.
 */
import { writeFile } from 'node:fs/promises';
import { compileDepositContract } from './compile.js';
import { renderArtifactModule } from './render-artifact.js';

const compiled = await compileDepositContract();
await writeFile(new URL('./artifact.ts', import.meta.url), renderArtifactModule(compiled));
process.stdout.write(`wrote artifact.ts (${compiled.solcVersion}, ${(compiled.bytecode.length - 2) / 2} bytes of init code)\n`);
