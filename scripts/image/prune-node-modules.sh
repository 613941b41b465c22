#!/bin/sh
# Deletes from an installed node_modules what Node never loads: TypeScript declarations and source maps
# (over a third of the production install). The image runs this after `npm ci --omit=dev`.
# Usage: prune-node-modules.sh NODE_MODULES_DIR
set -eu
find "$1" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.js.map' -o -name '*.mjs.map' -o -name '*.cjs.map' -o -name '*.ts.map' \) -delete
