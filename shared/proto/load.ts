import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from './generated/keylease.js';

const PROTO_PATH = fileURLToPath(new URL('./keylease.proto', import.meta.url));

let loaded: ProtoGrpcType | undefined;

/** The keylease.v1 gRPC package, loaded once from the .proto file with the options the types were generated for. */
export function keyleaseProto(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(PROTO_PATH, { longs: String, enums: String, defaults: true, oneofs: true, keepCase: false }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}

export type { ClaimRequest__Output } from './generated/keylease/v1/ClaimRequest.js';
export type { ClaimResponse, ClaimResponse__Output } from './generated/keylease/v1/ClaimResponse.js';
export type { RenewRequest__Output } from './generated/keylease/v1/RenewRequest.js';
export type { RenewResponse, RenewResponse__Output } from './generated/keylease/v1/RenewResponse.js';
export type { ReleaseRequest__Output } from './generated/keylease/v1/ReleaseRequest.js';
export type { ReleaseResponse } from './generated/keylease/v1/ReleaseResponse.js';
export type { AllocationClient } from './generated/keylease/v1/Allocation.js';
export type { AllocationHandlers } from './generated/keylease/v1/Allocation.js';
export type { ValidatorKey__Output } from './generated/keylease/v1/ValidatorKey.js';
