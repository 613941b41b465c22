/**
 * The JSON descriptors processes load (shared/proto/generated/descriptors.ts) are the .proto contracts:
 * in step with the files, and giving the same services and wire bytes as parsing the .proto text.
 */
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { protoDescriptors } from '../../scripts/proto/descriptors.js';
import { keyleaseDescriptor, raftDescriptor } from '../../shared/proto/generated/descriptors.js';

const protoDir = fileURLToPath(new URL('../../shared/proto/', import.meta.url));
interface MessageDescriptor {
  readonly field: ReadonlyArray<{ name: string; label: string; type: string; typeName: string; oneofIndex?: number }>;
}

/** A message with a non-default value in every scalar field and one level of nested messages. */
function sampleOf(message: MessageDescriptor, definitions: protoLoader.PackageDefinition, depth = 0): Record<string, unknown> {
  const sample: Record<string, unknown> = {};
  const oneofsTaken = new Set<number>();
  for (const field of message.field) {
    if (field.oneofIndex !== undefined && oneofsTaken.has(field.oneofIndex)) continue;
    let value: unknown;
    switch (field.type) {
      case 'TYPE_STRING': value = `${field.name}-value`; break;
      case 'TYPE_BYTES': value = Buffer.from(field.name); break;
      case 'TYPE_BOOL': value = true; break;
      case 'TYPE_DOUBLE': case 'TYPE_FLOAT': value = 1.5; break;
      case 'TYPE_INT64': case 'TYPE_UINT64': case 'TYPE_SINT64': case 'TYPE_FIXED64': case 'TYPE_SFIXED64': value = '1234567890123'; break;
      case 'TYPE_INT32': case 'TYPE_UINT32': case 'TYPE_SINT32': case 'TYPE_FIXED32': case 'TYPE_SFIXED32': value = 42; break;
      case 'TYPE_MESSAGE': {
        if (depth > 0) continue;
        const nested = definitions[field.typeName.replace(/^\./, '')] as protoLoader.MessageTypeDefinition<object, object> | undefined;
        if (!nested) continue;
        value = sampleOf(nested.type as MessageDescriptor, definitions, depth + 1);
        break;
      }
      default: continue;
    }
    if (field.oneofIndex !== undefined) oneofsTaken.add(field.oneofIndex);
    sample[field.name] = field.label === 'LABEL_REPEATED' ? [value, value] : value;
  }
  return sample;
}

const OPTIONS: protoLoader.Options = { longs: String, enums: String, defaults: true, oneofs: true, keepCase: false };

test('the descriptors are what the .proto files say today (run npm run gen:proto after editing them)', () => {
  const fresh = protoDescriptors(protoDir);
  assert.equal(keyleaseDescriptor, fresh['keylease.proto']);
  assert.equal(raftDescriptor, fresh['raft.proto']);
});

test('loaded from the descriptor, every method has the path and the wire bytes of the parsed .proto', () => {
  for (const [file, descriptor] of [['keylease.proto', keyleaseDescriptor], ['raft.proto', raftDescriptor]] as const) {
    const parsed = protoLoader.loadSync(`${protoDir}${file}`, OPTIONS);
    const loaded = protoLoader.fromJSON(descriptor, OPTIONS);
    const services = Object.keys(parsed).filter((name) => !('format' in parsed[name]!));
    assert.ok(services.length > 0, `${file} has services`);
    assert.equal(Object.keys(loaded).sort(), Object.keys(parsed).sort());
    for (const service of services) {
      const want = parsed[service] as protoLoader.ServiceDefinition;
      const got = loaded[service] as protoLoader.ServiceDefinition;
      assert.equal(Object.keys(got).sort(), Object.keys(want).sort(), `${service} methods`);
      for (const [method, definition] of Object.entries(want)) {
        assert.is(got[method]!.path, definition.path);
        const sample = sampleOf(definition.requestType.type as MessageDescriptor, parsed);
        assert.ok(definition.requestSerialize(sample).length > 0, `${definition.path}: the sample sets fields`);
        assert.equal(got[method]!.requestSerialize(sample), definition.requestSerialize(sample), `${definition.path} request bytes`);
        assert.equal(got[method]!.requestDeserialize(definition.requestSerialize(sample)), definition.requestDeserialize(definition.requestSerialize(sample)), `${definition.path} request fields`);
      }
    }
  }
});

test.run();
