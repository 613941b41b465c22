import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { keyleaseDescriptor, raftDescriptor } from './generated/descriptors.js';
import type { ProtoGrpcType } from './generated/keylease.js';
import type { ProtoGrpcType as RaftProtoGrpcType } from './generated/raft.js';

/** The options the generated types were made with (generate.sh): keep the two in step. */
const LOAD_OPTIONS: protoLoader.Options = { longs: String, enums: String, defaults: true, oneofs: true, keepCase: false };

/** From the descriptors generate.sh writes: no .proto text is parsed at start, and a bundle needs no files beside it. */
function load<T>(descriptor: Parameters<typeof protoLoader.fromJSON>[0]): T {
  return grpc.loadPackageDefinition(protoLoader.fromJSON(descriptor, LOAD_OPTIONS)) as unknown as T;
}

let keylease: ProtoGrpcType | undefined;
let raft: RaftProtoGrpcType | undefined;

/** The keylease.v1 gRPC package (agents ↔ coordinators), loaded once. */
export function keyleaseProto(): ProtoGrpcType {
  return (keylease ??= load<ProtoGrpcType>(keyleaseDescriptor));
}

/** The keylease.raft.v1 gRPC package (coordinator ↔ coordinator), loaded once. */
export function raftProto(): RaftProtoGrpcType {
  return (raft ??= load<RaftProtoGrpcType>(raftDescriptor));
}

export type { ClaimRequest__Output } from './generated/keylease/v1/ClaimRequest.js';
export type { ClaimResponse, ClaimResponse__Output } from './generated/keylease/v1/ClaimResponse.js';
export type { RenewRequest, RenewRequest__Output } from './generated/keylease/v1/RenewRequest.js';
export type { RenewResponse, RenewResponse__Output } from './generated/keylease/v1/RenewResponse.js';
export type { RenewRefusal, RenewRefusal__Output } from './generated/keylease/v1/RenewRefusal.js';
export type { ReleaseRequest__Output } from './generated/keylease/v1/ReleaseRequest.js';
export type { ReleaseResponse, ReleaseResponse__Output } from './generated/keylease/v1/ReleaseResponse.js';
export type { AllocationClient } from './generated/keylease/v1/Allocation.js';
export type { AllocationHandlers } from './generated/keylease/v1/Allocation.js';
export type { ValidatorKey__Output } from './generated/keylease/v1/ValidatorKey.js';
export type { RaftPeerClient, RaftPeerHandlers } from './generated/keylease/raft/v1/RaftPeer.js';
export type { RaftEnvelope, RaftEnvelope__Output } from './generated/keylease/raft/v1/RaftEnvelope.js';
