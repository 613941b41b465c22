import { defineLayout } from './engine.js';

/** No particular client: `keystores/0x<pubkey>.json` and its password in `secrets/0x<pubkey>.txt`. */
export const plainLayout = defineLayout({
  name: 'plain',
  dirs: ['keystores', 'secrets'],
  slots: [
    { dir: 'secrets', suffix: '.txt', content: (key) => key.keystorePassword },
    { dir: 'keystores', suffix: '.json', content: (key) => key.keystoreJson },
  ],
  globalFiles: [],
});
