import { defineLayout, slotPath, type KeySlot } from './engine.js';
import { toYaml } from './yaml-text.js';

const password: KeySlot = { dir: '', suffix: '.password', content: (key) => key.keystorePassword };
const keystore: KeySlot = { dir: '', suffix: '.json', content: (key) => key.keystoreJson };
const config: KeySlot = {
  dir: '',
  suffix: '.yaml',
  content: (key, outDir) =>
    toYaml({
      type: 'file-keystore',
      keyType: 'BLS',
      keystoreFile: slotPath(outDir, keystore, key.pubKey),
      keystorePasswordFile: slotPath(outDir, password, key.pubKey),
    }),
};

/**
 * Web3Signer, `web3signer --key-store-path=<outDir> eth2`: one signing key configuration file per key,
 * `0x<pubkey>.yaml` with `type: "file-keystore"`, `keyType: "BLS"`, `keystoreFile`, `keystorePasswordFile`
 * (Web3Signer docs, "Signing key configuration file parameters"), beside `0x<pubkey>.json` and
 * `0x<pubkey>.password`. Web3Signer reads only `*.yaml` there; the configuration is written after the files
 * it points to and removed before them.
 */
export const web3signerLayout = defineLayout({
  name: 'web3signer',
  dirs: [],
  slots: [password, keystore, config],
  globalFiles: [],
});
