// Original file: keylease.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ClaimRequest as _keylease_v1_ClaimRequest, ClaimRequest__Output as _keylease_v1_ClaimRequest__Output } from '../../keylease/v1/ClaimRequest.js';
import type { ClaimResponse as _keylease_v1_ClaimResponse, ClaimResponse__Output as _keylease_v1_ClaimResponse__Output } from '../../keylease/v1/ClaimResponse.js';
import type { ReleaseRequest as _keylease_v1_ReleaseRequest, ReleaseRequest__Output as _keylease_v1_ReleaseRequest__Output } from '../../keylease/v1/ReleaseRequest.js';
import type { ReleaseResponse as _keylease_v1_ReleaseResponse, ReleaseResponse__Output as _keylease_v1_ReleaseResponse__Output } from '../../keylease/v1/ReleaseResponse.js';
import type { RenewRequest as _keylease_v1_RenewRequest, RenewRequest__Output as _keylease_v1_RenewRequest__Output } from '../../keylease/v1/RenewRequest.js';
import type { RenewResponse as _keylease_v1_RenewResponse, RenewResponse__Output as _keylease_v1_RenewResponse__Output } from '../../keylease/v1/RenewResponse.js';
import type { ReportRemovedRequest as _keylease_v1_ReportRemovedRequest, ReportRemovedRequest__Output as _keylease_v1_ReportRemovedRequest__Output } from '../../keylease/v1/ReportRemovedRequest.js';
import type { ReportRemovedResponse as _keylease_v1_ReportRemovedResponse, ReportRemovedResponse__Output as _keylease_v1_ReportRemovedResponse__Output } from '../../keylease/v1/ReportRemovedResponse.js';

export interface AllocationClient extends grpc.Client {
  Claim(argument: _keylease_v1_ClaimRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  Claim(argument: _keylease_v1_ClaimRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  Claim(argument: _keylease_v1_ClaimRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  Claim(argument: _keylease_v1_ClaimRequest, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  claim(argument: _keylease_v1_ClaimRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  claim(argument: _keylease_v1_ClaimRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  claim(argument: _keylease_v1_ClaimRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  claim(argument: _keylease_v1_ClaimRequest, callback: grpc.requestCallback<_keylease_v1_ClaimResponse__Output>): grpc.ClientUnaryCall;
  
  Release(argument: _keylease_v1_ReleaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  Release(argument: _keylease_v1_ReleaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  Release(argument: _keylease_v1_ReleaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  Release(argument: _keylease_v1_ReleaseRequest, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _keylease_v1_ReleaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _keylease_v1_ReleaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _keylease_v1_ReleaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  release(argument: _keylease_v1_ReleaseRequest, callback: grpc.requestCallback<_keylease_v1_ReleaseResponse__Output>): grpc.ClientUnaryCall;
  
  Renew(argument: _keylease_v1_RenewRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  Renew(argument: _keylease_v1_RenewRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  Renew(argument: _keylease_v1_RenewRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  Renew(argument: _keylease_v1_RenewRequest, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _keylease_v1_RenewRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _keylease_v1_RenewRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _keylease_v1_RenewRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  renew(argument: _keylease_v1_RenewRequest, callback: grpc.requestCallback<_keylease_v1_RenewResponse__Output>): grpc.ClientUnaryCall;
  
  RenewStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_keylease_v1_RenewRequest, _keylease_v1_RenewResponse__Output>;
  RenewStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_keylease_v1_RenewRequest, _keylease_v1_RenewResponse__Output>;
  renewStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_keylease_v1_RenewRequest, _keylease_v1_RenewResponse__Output>;
  renewStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_keylease_v1_RenewRequest, _keylease_v1_RenewResponse__Output>;
  
  ReportRemoved(argument: _keylease_v1_ReportRemovedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  ReportRemoved(argument: _keylease_v1_ReportRemovedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  ReportRemoved(argument: _keylease_v1_ReportRemovedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  ReportRemoved(argument: _keylease_v1_ReportRemovedRequest, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  reportRemoved(argument: _keylease_v1_ReportRemovedRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  reportRemoved(argument: _keylease_v1_ReportRemovedRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  reportRemoved(argument: _keylease_v1_ReportRemovedRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  reportRemoved(argument: _keylease_v1_ReportRemovedRequest, callback: grpc.requestCallback<_keylease_v1_ReportRemovedResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface AllocationHandlers extends grpc.UntypedServiceImplementation {
  Claim: grpc.handleUnaryCall<_keylease_v1_ClaimRequest__Output, _keylease_v1_ClaimResponse>;
  
  Release: grpc.handleUnaryCall<_keylease_v1_ReleaseRequest__Output, _keylease_v1_ReleaseResponse>;
  
  Renew: grpc.handleUnaryCall<_keylease_v1_RenewRequest__Output, _keylease_v1_RenewResponse>;
  
  RenewStream: grpc.handleBidiStreamingCall<_keylease_v1_RenewRequest__Output, _keylease_v1_RenewResponse>;
  
  ReportRemoved: grpc.handleUnaryCall<_keylease_v1_ReportRemovedRequest__Output, _keylease_v1_ReportRemovedResponse>;
  
}

export interface AllocationDefinition extends grpc.ServiceDefinition {
  Claim: MethodDefinition<_keylease_v1_ClaimRequest, _keylease_v1_ClaimResponse, _keylease_v1_ClaimRequest__Output, _keylease_v1_ClaimResponse__Output>
  Release: MethodDefinition<_keylease_v1_ReleaseRequest, _keylease_v1_ReleaseResponse, _keylease_v1_ReleaseRequest__Output, _keylease_v1_ReleaseResponse__Output>
  Renew: MethodDefinition<_keylease_v1_RenewRequest, _keylease_v1_RenewResponse, _keylease_v1_RenewRequest__Output, _keylease_v1_RenewResponse__Output>
  RenewStream: MethodDefinition<_keylease_v1_RenewRequest, _keylease_v1_RenewResponse, _keylease_v1_RenewRequest__Output, _keylease_v1_RenewResponse__Output>
  ReportRemoved: MethodDefinition<_keylease_v1_ReportRemovedRequest, _keylease_v1_ReportRemovedResponse, _keylease_v1_ReportRemovedRequest__Output, _keylease_v1_ReportRemovedResponse__Output>
}
