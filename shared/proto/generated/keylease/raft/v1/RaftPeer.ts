// Original file: raft.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { RaftEnvelope as _keylease_raft_v1_RaftEnvelope, RaftEnvelope__Output as _keylease_raft_v1_RaftEnvelope__Output } from '../../../keylease/raft/v1/RaftEnvelope.js';
import type { StreamEnd as _keylease_raft_v1_StreamEnd, StreamEnd__Output as _keylease_raft_v1_StreamEnd__Output } from '../../../keylease/raft/v1/StreamEnd.js';

export interface RaftPeerClient extends grpc.Client {
  Stream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  Stream(metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  Stream(options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  Stream(callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  stream(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  stream(metadata: grpc.Metadata, callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  stream(options: grpc.CallOptions, callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  stream(callback: grpc.requestCallback<_keylease_raft_v1_StreamEnd__Output>): grpc.ClientWritableStream<_keylease_raft_v1_RaftEnvelope>;
  
}

export interface RaftPeerHandlers extends grpc.UntypedServiceImplementation {
  Stream: grpc.handleClientStreamingCall<_keylease_raft_v1_RaftEnvelope__Output, _keylease_raft_v1_StreamEnd>;
  
}

export interface RaftPeerDefinition extends grpc.ServiceDefinition {
  Stream: MethodDefinition<_keylease_raft_v1_RaftEnvelope, _keylease_raft_v1_StreamEnd, _keylease_raft_v1_RaftEnvelope__Output, _keylease_raft_v1_StreamEnd__Output>
}
