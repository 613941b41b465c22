import { defineLayout } from './engine.js';

/**
 * Teku, `--validator-keys=<outDir>/keys:<outDir>/passwords`: for every `keys/<name>.json` Teku reads the
 * password from `passwords/<name>.txt` (Teku docs, CLI reference, `--validator-keys`). Teku loads every
 * `*.json` in the keys directory, so temporary files never end in `.json`.
 */
export const tekuLayout = defineLayout({
  name: 'teku',
  dirs: ['keys', 'passwords'],
  slots: [
    { dir: 'passwords', suffix: '.txt', content: (key) => key.keystorePassword },
    { dir: 'keys', suffix: '.json', content: (key) => key.keystoreJson },
  ],
  globalFiles: [],
});
