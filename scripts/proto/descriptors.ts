import protobuf from 'protobufjs';
import { join } from 'node:path';

/** The contracts and the constant each one's descriptor is exported as. */
export const PROTO_FILES = [
  { file: 'keylease.proto', constant: 'keyleaseDescriptor' },
  { file: 'raft.proto', constant: 'raftDescriptor' },
] as const;

/**
 * Each .proto file in `protoDir` as protobufjs' JSON descriptor, parsed as @grpc/proto-loader parses it
 * with keepCase false (field names in camelCase, the names the generated types use).
 */
export function protoDescriptors(protoDir: string): Record<string, protobuf.INamespace> {
  const out: Record<string, protobuf.INamespace> = {};
  for (const { file } of PROTO_FILES) out[file] = new protobuf.Root().loadSync(join(protoDir, file), { keepCase: false }).toJSON();
  return out;
}
