import { join } from 'node:path';
import { LIGHTHOUSE_DEFINITIONS } from '../../shared/eth/layouts/lighthouse.js';
import { ensureDir, writeFileAtomic } from '../../shared/eth/layouts/atomic-file.js';
import { toYaml } from '../../shared/eth/layouts/yaml-text.js';
import type { GrantedKey, KeyHolder } from '../key-holders.js';

/**
 * Lighthouse in remote-signer mode: `validator_definitions.yml` lists each key as `type: web3signer`
 * with the agent's signer URL, so the client asks the agent to sign and never holds a key. Removing the
 * keys empties the list; the signer itself is what stops the signing.
 */
export class LighthouseSignerDefinitions implements KeyHolder {
  readonly name = 'lighthouse web3signer definitions';

  constructor(
    private readonly outDir: string,
    private readonly signerUrl: () => string,
  ) {}

  async install(keys: readonly GrantedKey[]): Promise<void> {
    await this.write(keys.map((key) => ({ enabled: true, voting_public_key: key.pubKey, description: 'keylease', type: 'web3signer', url: this.signerUrl() })));
  }

  async removeAll(): Promise<{ slashingProtection: string | null }> {
    await this.write([]);
    return { slashingProtection: null };
  }

  private async write(definitions: readonly object[]): Promise<void> {
    await ensureDir(this.outDir);
    await writeFileAtomic(join(this.outDir, LIGHTHOUSE_DEFINITIONS), toYaml(definitions));
  }
}
