#!/usr/bin/env bash
# Writes TypeScript types for shared/proto/*.proto without protoc, adds the `.js` suffixes that
# ESM (nodenext) resolution requires on relative imports, then the JSON descriptors processes load.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf generated
npx proto-loader-gen-types --longs=String --enums=String --defaults --oneofs --grpcLib=@grpc/grpc-js \
  --outDir=generated keylease.proto raft.proto
find generated -name '*.ts' -exec sed -i -E "s#(from '\.{1,2}/[^']+)';#\1.js';#" {} +
npx tsx ../../scripts/proto/write-descriptors.ts
