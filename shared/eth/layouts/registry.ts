import { LayoutError } from './engine.js';
import { lighthouseLayout } from './lighthouse.js';
import { lodestarLayout } from './lodestar.js';
import { nimbusLayout } from './nimbus.js';
import { plainLayout } from './plain.js';
import { prysmLayout } from './prysm.js';
import { tekuLayout } from './teku.js';
import { web3signerLayout } from './web3signer.js';
import { LAYOUT_NAMES, type KeyLayout, type LayoutName } from './types.js';

const LAYOUTS: Record<LayoutName, KeyLayout> = {
  lighthouse: lighthouseLayout,
  teku: tekuLayout,
  nimbus: nimbusLayout,
  lodestar: lodestarLayout,
  prysm: prysmLayout,
  web3signer: web3signerLayout,
  plain: plainLayout,
};

export function layoutFor(name: LayoutName): KeyLayout {
  const layout = Object.hasOwn(LAYOUTS, name) ? LAYOUTS[name] : undefined;
  if (!layout) throw new LayoutError('LAYOUT_UNKNOWN', `unknown layout ${JSON.stringify(name)}: use one of ${LAYOUT_NAMES.join(', ')}`);
  return layout;
}
