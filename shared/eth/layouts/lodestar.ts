import { defineLayout } from './engine.js';

/**
 * Lodestar, `--keystoresDir=<outDir>/keystores --secretsDir=<outDir>/secrets` (its defaults under the data
 * dir): `keystores/0x<pubkey>/voting-keystore.json` and the password in `secrets/0x<pubkey>`
 * (lodestar packages/cli/src/cmds/validator/keymanager/persistedKeys.ts, getValidatorPaths).
 */
export const lodestarLayout = defineLayout({
  name: 'lodestar',
  dirs: ['keystores', 'secrets'],
  slots: [
    { dir: 'secrets', suffix: '', content: (key) => key.keystorePassword },
    { dir: 'keystores', suffix: '', innerFile: 'voting-keystore.json', content: (key) => key.keystoreJson },
  ],
  globalFiles: [],
});
