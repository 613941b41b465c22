import * as grpc from '@grpc/grpc-js';
import { newAllocationClient } from '../shared/proto/allocation-client.js';
import type { AllocationClient } from '../shared/proto/load.js';

/**
 * grpc-js's defaults suit long-lived services, not a lease of seconds: its reconnect backoff grows to
 * two minutes, and a peer that vanished without closing the connection (node lost, partition) goes
 * unnoticed until a call times out.
 */
export const AGENT_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // A replica that restarts, or a survivor that was slow to accept, is tried again within 2 s.
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2000,
  // The renewal stream is always open, so the pings run: a silent connection is dropped within a minute.
  // Generous: a missed ping drops every call on the connection, and a starved event loop (the agent's
  // or the replica's) answers late; a renewal that goes unanswered moves on to another replica anyway.
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 20_000,
  // Per-call statistics nothing reads.
  'grpc.enable_channelz': 0,
};

/**
 * One channel (grpc-js client) per coordinator endpoint. An agent owns one; many lease loops in one
 * process (the fleet bench) may share one, so the process keeps three channels rather than three per pod.
 */
export class AllocationChannels {
  private readonly clients = new Map<string, AllocationClient>();

  constructor(private readonly credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()) {}

  for(endpoint: string): AllocationClient {
    let client = this.clients.get(endpoint);
    if (!client) {
      client = newAllocationClient(endpoint, this.credentials, AGENT_CHANNEL_OPTIONS);
      this.clients.set(endpoint, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
