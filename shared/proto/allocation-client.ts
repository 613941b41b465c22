import * as grpc from '@grpc/grpc-js';
import { DescriptorCodecs, type DescriptorNamespace } from './codec/message-codec.js';
import { keyleaseDescriptor } from './generated/descriptors.js';
import type { AllocationClient } from './generated/keylease/v1/Allocation.js';

const SERVICE = 'keylease.v1.Allocation';

let constructor: grpc.ServiceClientConstructor | undefined;

/**
 * The client side of keylease.v1.Allocation, for the agent: the same calls as the proto-loader package
 * the coordinator serves (shared/proto/load.ts), with messages encoded by shared/proto/codec, so the sidecar
 * loads neither proto-loader nor protobufjs.
 */
export function newAllocationClient(address: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): AllocationClient {
  constructor ??= grpc.makeGenericClientConstructor(allocationDefinition(), 'Allocation');
  return new constructor(address, credentials, options) as unknown as AllocationClient;
}

function allocationDefinition(): grpc.ServiceDefinition {
  const codecs = new DescriptorCodecs(keyleaseDescriptor as unknown as DescriptorNamespace);
  const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of codecs.service(SERVICE)) {
    const request = codecs.codec(method.requestType);
    const response = codecs.codec(method.responseType);
    definition[method.name] = {
      path: `/${SERVICE}/${method.name}`,
      requestStream: method.requestStream,
      responseStream: method.responseStream,
      requestSerialize: (message: object) => request.encode(message as Record<string, unknown>),
      requestDeserialize: request.decode,
      responseSerialize: (message: object) => response.encode(message as Record<string, unknown>),
      responseDeserialize: response.decode,
      originalName: method.name[0]!.toLowerCase() + method.name.slice(1),
    };
  }
  return definition;
}
