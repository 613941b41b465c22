import { defineLayout, slotPath, type KeySlot } from './engine.js';
import { toYaml } from './yaml-text.js';

export const LIGHTHOUSE_DEFINITIONS = 'validator_definitions.yml';

const secrets: KeySlot = { dir: 'secrets', suffix: '', content: (key) => key.keystorePassword };
const keystores: KeySlot = { dir: 'validators', suffix: '', innerFile: 'voting-keystore.json', content: (key) => key.keystoreJson };

/**
 * Lighthouse, `lighthouse vc --validators-dir=<outDir> --secrets-dir=<outDir>/secrets`: the validator
 * client loads the validators listed in `<validators-dir>/validator_definitions.yml`, a YAML list of
 * `{enabled, voting_public_key, description, type: local_keystore, voting_keystore_path,
 * voting_keystore_password_path}` (lighthouse common/account_utils/src/validator_definitions.rs). Paths are
 * absolute, so the client must see outDir at the same path as the agent. Keystores sit in Lighthouse's own
 * shape, `validators/0x<pubkey>/voting-keystore.json`, passwords in `secrets/0x<pubkey>`.
 */
export const lighthouseLayout = defineLayout({
  name: 'lighthouse',
  dirs: ['validators', 'secrets'],
  slots: [secrets, keystores],
  globalFiles: [LIGHTHOUSE_DEFINITIONS],
  buildGlobals: async (outDir, keys) => {
    const definitions = keys.map((key) => ({
      enabled: true,
      voting_public_key: key.pubKey,
      description: '',
      type: 'local_keystore',
      voting_keystore_path: slotPath(outDir, keystores, key.pubKey),
      voting_keystore_password_path: slotPath(outDir, secrets, key.pubKey),
    }));
    return [{ path: LIGHTHOUSE_DEFINITIONS, content: toYaml(definitions) }];
  },
});
