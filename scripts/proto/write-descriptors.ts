/**
 * Writes shared/proto/generated/descriptors.ts: each .proto contract as the JSON descriptor protobufjs
 * makes of it. Processes load these instead of parsing .proto text at start, and a bundle carries them
 * inside itself. Run by shared/proto/generate.sh (npm run gen:proto); a unit test keeps them in step.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { protoDescriptors, PROTO_FILES } from './descriptors.js';

const protoDir = fileURLToPath(new URL('../../shared/proto/', import.meta.url));
const descriptors = protoDescriptors(protoDir);
const lines = [
  '// Written by scripts/proto/write-descriptors.ts from the .proto files beside this folder: do not edit.',
  "import type { fromJSON } from '@grpc/proto-loader';",
  '',
  'type Descriptor = Parameters<typeof fromJSON>[0];',
  '',
  ...PROTO_FILES.map(({ file, constant }) => `/** ${file} */\nexport const ${constant} = ${JSON.stringify(descriptors[file])} as unknown as Descriptor;\n`),
];
writeFileSync(`${protoDir}generated/descriptors.ts`, lines.join('\n'));
