import * as grpc from '@grpc/grpc-js';
import type { Message, NodeId } from '../../raft/types.js';
import type { Logger } from '../../../shared/log/logger.js';
import { reloadingChannelCredentials, reloadingServerCredentials } from '../../../shared/tls/grpc-credentials.js';
import type { ReloadingTls } from '../../../shared/tls/reloading-tls.js';
import { raftProto, type RaftEnvelope, type RaftEnvelope__Output, type RaftPeerClient, type RaftPeerHandlers } from '../../../shared/proto/load.js';

export interface PeerTransportOptions {
  readonly replicaId: NodeId;
  readonly listenHost: string;
  readonly listenPort: number;
  /** Raft endpoints (HOST:PORT) of the other replicas known from configuration, by id. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** How peers reach this replica's Raft port, and agents its gRPC API: sent with every message. */
  readonly advertisedRaftAddress: string;
  readonly advertisedAgentEndpoint: string;
  /** CA, certificate and key for mutual TLS between replicas, kept current as the files rotate. */
  readonly tls: ReloadingTls | null;
  readonly onMessage: (message: Message) => void;
  /** A peer's stream to this replica opened (first message) or closed (its process died, or the stream was reset). */
  readonly onConnection?: (peer: NodeId, connected: boolean) => void;
  readonly logger: Logger;
}

/** Per-call statistics for channelz cost a little on every message, and nothing reads them here. */
const PEER_CHANNEL_OPTIONS = { 'grpc.enable_channelz': 0 } as const;

/** How often keepConnected tries again to open a stream to a peer that is down. */
const REDIAL_MS = 1000;

/** Writes gRPC may buffer for a slow peer; beyond this the stream is dropped and Raft's retries take over. */
const MAX_BACKLOG_PER_PEER = 4096;

/**
 * Raft messages over gRPC: one client stream per peer, opened on first use and reopened after a
 * failure; the messages for a peer from one turn of the event loop go in one envelope. Loss is fine (Raft retransmits), so a broken stream drops what was in flight rather than
 * holding it: a stale append delivered late is harmless but useless.
 */
export class PeerTransport {
  private readonly server = new grpc.Server(PEER_CHANNEL_OPTIONS);
  private readonly clients = new Map<NodeId, RaftPeerClient>();
  /** Raft addresses: configured ones, and those of members added later, learned from their messages. */
  private readonly addresses: Map<NodeId, string>;
  private readonly agentEndpoints = new Map<NodeId, string>();
  private readonly streams = new Map<NodeId, grpc.ClientWritableStream<RaftEnvelope>>();
  /** Writes made since the peer's stream last drained. */
  private readonly backlog = new Map<NodeId, number>();
  /** Messages (JSON) queued in this turn of the event loop, by recipient. */
  private outbox = new Map<NodeId, Buffer[]>();
  private flushScheduled = false;
  /** When keepConnected last opened a stream to each peer (performance.now()). */
  private readonly dialedAt = new Map<NodeId, number>();
  /** Open streams from each peer to this replica. */
  private readonly inbound = new Map<NodeId, number>();
  /** One for every peer client: each new connection takes the CA and certificate current at that moment. */
  private readonly channelCredentials: grpc.ChannelCredentials;
  private closed = false;
  port = 0;

  constructor(private readonly options: PeerTransportOptions) {
    this.addresses = new Map(options.peers);
    this.channelCredentials = options.tls ? reloadingChannelCredentials(options.tls) : grpc.credentials.createInsecure();
  }

  /** Where agents reach replica `id`, as it last advertised it; null if it never wrote to us. */
  agentEndpointOf(id: NodeId): string | null {
    return this.agentEndpoints.get(id) ?? null;
  }

  /** Records the Raft address of a member being added, so the leader can reach it. */
  addPeer(id: NodeId, raftAddress: string): void {
    if (this.addresses.get(id) === raftAddress) return;
    this.addresses.set(id, raftAddress);
    this.forget(id);
  }

  async start(): Promise<void> {
    const handlers: RaftPeerHandlers = {
      Stream: (call, callback) => {
        // The stream counts as the peer's connection from its first message until it ends in any way.
        let from: NodeId | null = null;
        const ended = () => {
          if (from !== null) this.inboundEnded(from);
          from = null;
        };
        call.on('data', (envelope: RaftEnvelope__Output) => {
          if (this.receive(envelope) && from === null) {
            from = envelope.from;
            this.inboundStarted(from);
          }
        });
        call.on('error', ended);
        call.on('cancelled', ended);
        call.on('close', ended);
        call.on('end', () => {
          ended();
          callback(null, {});
        });
      },
    };
    this.server.addService(raftProto().keylease.raft.v1.RaftPeer.service, handlers);
    const { listenHost, listenPort, tls } = this.options;
    const credentials = tls ? reloadingServerCredentials(tls, { requireClientCertificate: true }) : grpc.ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${listenPort}`, credentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
  }

  /**
   * Queues `message`; everything queued for a peer leaves in one write, at the end of this turn of the
   * event loop or at the next flush(), whichever comes first.
   */
  send(message: Message): void {
    if (this.closed) return;
    const queue = this.outbox.get(message.to);
    if (queue) queue.push(Buffer.from(JSON.stringify(message)));
    else this.outbox.set(message.to, [Buffer.from(JSON.stringify(message))]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /**
   * Writes what is queued now. The Raft driver calls it before it waits on its disk, so messages already
   * waiting leave at once instead of after the write's own turn of the event loop.
   */
  flush(): void {
    if (this.outbox.size === 0) return;
    const outbox = this.outbox;
    this.outbox = new Map();
    if (this.closed) return;
    for (const [to, messages] of outbox) {
      const stream = this.streamTo(to);
      if (!stream) continue;
      const envelope: RaftEnvelope = {
        from: this.options.replicaId,
        to,
        message: messages[0]!,
        moreMessages: messages.slice(1),
        fromRaftAddress: this.options.advertisedRaftAddress,
        fromAgentEndpoint: this.options.advertisedAgentEndpoint,
      };
      if (!stream.write(envelope)) {
        // gRPC keeps the write buffered; a peer that stays this far behind gets a fresh stream instead.
        const backlog = (this.backlog.get(to) ?? 0) + 1;
        this.backlog.set(to, backlog);
        if (backlog > MAX_BACKLOG_PER_PEER) this.resetStream(to);
      }
    }
  }

  /**
   * Opens a stream to `peer` unless one is open (or was tried within REDIAL_MS). Followers send each other
   * nothing while a leader lives, so the first pre-vote after the leader died used to wait for a
   * connection: 2 s on a machine starved of CPU across a 10,000-pod failover. An idle stream counts as no
   * connection at the peer (that takes a message), so it tells the peer nothing about this replica.
   */
  keepConnected(peer: NodeId): void {
    if (this.closed || peer === this.options.replicaId || this.streams.has(peer)) return;
    const now = performance.now();
    if (now - (this.dialedAt.get(peer) ?? -Infinity) < REDIAL_MS) return;
    this.dialedAt.set(peer, now);
    this.streamTo(peer);
  }

  /** Whether the channel to `peer` is connected (ready for a message without a handshake). */
  channelReady(peer: NodeId): boolean {
    return this.clients.get(peer)?.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.streams.keys()]) this.resetStream(id);
    for (const client of this.clients.values()) client.close();
    // Nothing on a peer stream needs a graceful end (Raft resends what is lost), and a graceful shutdown
    // waited for the peers' connections to go: ~10 s at every stop of a replica.
    this.server.forceShutdown();
  }

  private inboundStarted(peer: NodeId): void {
    const open = (this.inbound.get(peer) ?? 0) + 1;
    this.inbound.set(peer, open);
    if (open === 1) this.options.onConnection?.(peer, true);
  }

  private inboundEnded(peer: NodeId): void {
    const open = (this.inbound.get(peer) ?? 0) - 1;
    if (open > 0) {
      this.inbound.set(peer, open);
      return;
    }
    this.inbound.delete(peer);
    if (!this.closed) this.options.onConnection?.(peer, false);
  }

  /** Hands the envelope's messages on; false if it was not meant for this replica. */
  private receive(envelope: RaftEnvelope__Output): boolean {
    if (envelope.to !== this.options.replicaId || envelope.from === this.options.replicaId) {
      this.options.logger.warn('dropping Raft messages not meant for this replica', { from: envelope.from, to: envelope.to });
      return false;
    }
    if (envelope.fromAgentEndpoint) this.agentEndpoints.set(envelope.from, envelope.fromAgentEndpoint);
    // Configured addresses win; a member added at run time is answered where it says it listens.
    if (envelope.fromRaftAddress && !this.options.peers.has(envelope.from) && this.addresses.get(envelope.from) !== envelope.fromRaftAddress) {
      this.addresses.set(envelope.from, envelope.fromRaftAddress);
      this.forget(envelope.from);
    }
    for (const bytes of [envelope.message, ...envelope.moreMessages]) {
      let message: Message;
      try {
        message = JSON.parse(bytes.toString('utf8')) as Message;
      } catch {
        this.options.logger.warn('dropping an undecodable Raft message', { from: envelope.from });
        continue;
      }
      if (message.to !== envelope.to || message.from !== envelope.from) {
        this.options.logger.warn('dropping a Raft message whose sender or recipient differs from its envelope', { from: envelope.from, to: envelope.to });
        continue;
      }
      this.options.onMessage(message);
    }
    return true;
  }

  private streamTo(peer: NodeId): grpc.ClientWritableStream<RaftEnvelope> | null {
    const existing = this.streams.get(peer);
    if (existing) return existing;
    const client = this.clientFor(peer);
    if (!client) return null;
    const stream = client.Stream((error) => {
      if (error && !this.closed) this.options.logger.debug('Raft stream to peer ended', { peer, error: error.message });
      if (this.streams.get(peer) === stream) this.streams.delete(peer);
    });
    stream.on('drain', () => this.backlog.delete(peer));
    this.streams.set(peer, stream);
    return stream;
  }

  private clientFor(peer: NodeId): RaftPeerClient | null {
    const existing = this.clients.get(peer);
    if (existing) return existing;
    const address = this.addresses.get(peer);
    if (!address) return null;
    const client = new (raftProto().keylease.raft.v1.RaftPeer)(address, this.channelCredentials, {
      // Reconnect quickly after a peer restarts: elections are measured in hundreds of milliseconds.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.keepalive_time_ms': 10_000,
      ...PEER_CHANNEL_OPTIONS,
      // A Raft stream is never retried (Raft resends what was lost), so gRPC need not buffer its writes.
      'grpc.enable_retries': 0,
    });
    this.clients.set(peer, client);
    return client;
  }

  /** Drops the connection to a peer whose address changed; the next send dials the new one. */
  private forget(peer: NodeId): void {
    this.resetStream(peer);
    this.clients.get(peer)?.close();
    this.clients.delete(peer);
  }

  private resetStream(peer: NodeId): void {
    const stream = this.streams.get(peer);
    this.streams.delete(peer);
    this.backlog.delete(peer);
    stream?.cancel();
  }
}
