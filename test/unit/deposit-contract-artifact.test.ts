import { readFile } from 'node:fs/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileDepositContract } from '../../coordinator/deposits/contract/compile.js';
import { renderArtifactModule } from '../../coordinator/deposits/contract/render-artifact.js';

test('the committed artifact is what solc 0.8.37 makes of DepositContract.sol today', async () => {
  const compiled = await compileDepositContract();
  assert.match(compiled.solcVersion, /^0\.8\.37\+/);
  const committed = await readFile(new URL('../../coordinator/deposits/contract/artifact.ts', import.meta.url), 'utf8');
  // On failure: npx tsx coordinator/deposits/contract/write-artifact.ts
  assert.ok(committed === renderArtifactModule(compiled), 'coordinator/deposits/contract/artifact.ts is stale: regenerate it with write-artifact.ts');
});

test("the contract's ABI is the official deposit contract's", async () => {
  const { abi } = await compileDepositContract();
  const signatures = (abi as { type: string; name?: string; inputs?: { type: string }[]; outputs?: { type: string }[] }[])
    .filter((entry) => entry.type === 'function' || entry.type === 'event')
    .map((entry) => `${entry.type} ${entry.name}(${entry.inputs!.map((input) => input.type).join(',')})${entry.outputs ? ` -> (${entry.outputs.map((o) => o.type).join(',')})` : ''}`)
    .sort();
  assert.equal(signatures, [
    'event DepositEvent(bytes,bytes,bytes,bytes,bytes)',
    'function deposit(bytes,bytes,bytes,bytes32) -> ()',
    'function get_deposit_count() -> (bytes)',
    'function get_deposit_root() -> (bytes32)',
  ]);
});

test.run();
