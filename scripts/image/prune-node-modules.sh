#!/bin/sh
# Deletes from an installed node_modules what Node never loads: TypeScript (declarations, and the sources
# some packages ship beside their JavaScript) and source maps, over a third of the production install; and
# the empty folders npm leaves. The image runs this after `npm ci --omit=dev`.
# Usage: prune-node-modules.sh NODE_MODULES_DIR
set -eu
find "$1" -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' \
  -o -name '*.js.map' -o -name '*.mjs.map' -o -name '*.cjs.map' -o -name '*.ts.map' \) -delete
# npm leaves the scope folders of omitted packages behind, empty.
find "$1" -mindepth 1 -type d -empty -delete
