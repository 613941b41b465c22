import { defineLayout } from './engine.js';

/**
 * Nimbus, `--validators-dir=<outDir>/validators --secrets-dir=<outDir>/secrets`: a local validator is
 * `validators/0x<pubkey>/keystore.json` with its password, read verbatim, in `secrets/0x<pubkey>`
 * (nimbus-eth2 beacon_chain/validators/keystore_management.nim: KeystoreFileName, KeyNameSize = 98).
 * Nimbus insists on 0600 files and 0700 directories.
 */
export const nimbusLayout = defineLayout({
  name: 'nimbus',
  dirs: ['validators', 'secrets'],
  slots: [
    { dir: 'secrets', suffix: '', content: (key) => key.keystorePassword },
    { dir: 'validators', suffix: '', innerFile: 'keystore.json', content: (key) => key.keystoreJson },
  ],
  globalFiles: [],
});
