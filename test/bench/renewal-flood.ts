/**
 * The fleet bench's flood: renewals of leases the fleet holds, sent back to back to the leader over
 * RenewStream as gRPC frames on one HTTP/2 connection. The agent's own client costs its process about
 * as much CPU per renewal as the leader spends answering it, so on one machine a flood of agents' calls
 * measured the agents; this sender costs a few microseconds a renewal, and the leader is what is
 * measured. The leader cannot tell it from agents: the same method, frames and messages
 * (keylease.proto), asking for in-band refusals as agents do.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { DescriptorCodecs, type DescriptorNamespace } from '../../shared/proto/codec/message-codec.js';
import { keyleaseDescriptor } from '../../shared/proto/generated/descriptors.js';
import { RENEW_REFUSALS_HEADER } from '../../shared/proto/agent-metadata.js';

export interface FloodLease {
  readonly podName: string;
  readonly leaseId: string;
}

export interface FloodResult {
  readonly renewals: number;
  /** Renewals refused in-band, and those unanswered when their stream failed. */
  readonly failures: number;
  readonly latenciesMs: number[];
  /** Distinct refusal and stream errors, with how often each came. */
  readonly problems: Record<string, number>;
}

/** The gRPC message prefix: a compressed flag and a 4-byte length. */
const FRAME_PREFIX = 5;

const codecs = new DescriptorCodecs(keyleaseDescriptor as unknown as DescriptorNamespace);
const requestCodec = codecs.codec('keylease.v1.RenewRequest');
const responseCodec = codecs.codec('keylease.v1.RenewResponse');

function frame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(FRAME_PREFIX + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, FRAME_PREFIX);
  return framed;
}

/**
 * Renews `leases` in turn at `endpoint` (HOST:PORT, plaintext), `inFlight` at a time over `streams`
 * streams, for `seconds`. With as many streams as renewals in flight, each stream carries one renewal
 * at a time, as an agent's does; fewer streams put several in one write. Renewing a live lease early is
 * harmless: it only moves its expiry later.
 */
export async function floodRenewals(endpoint: string, leases: readonly FloodLease[], seconds: number, inFlight: number, streams: number): Promise<FloodResult> {
  const problems: Record<string, number> = {};
  const note = (problem: string) => (problems[problem] = (problems[problem] ?? 0) + 1);
  if (leases.length === 0) return { renewals: 0, failures: 0, latenciesMs: [], problems };
  const session: ClientHttp2Session = connect(`http://${endpoint}`);
  session.on('error', (error) => note(`connection: ${error.message}`));
  const until = performance.now() + seconds * 1000;
  const latenciesMs: number[] = [];
  let renewals = 0;
  let failures = 0;
  let nextLease = 0;
  let sequence = 0;
  const renewalOf = (): { bytes: Buffer; sequence: number } => {
    const lease = leases[nextLease++ % leases.length]!;
    sequence = (sequence + 1) >>> 0;
    return { bytes: frame(requestCodec.encode({ podName: lease.podName, leaseId: lease.leaseId, sequence })), sequence };
  };

  const runStream = (slots: number) =>
    new Promise<void>((resolve) => {
      const sentAt = new Map<number, number>();
      const stream: ClientHttp2Stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: '/keylease.v1.Allocation/RenewStream',
        [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        [constants.HTTP2_HEADER_TE]: 'trailers',
        [RENEW_REFUSALS_HEADER]: 'in-band',
      });
      const send = (count: number) => {
        const frames: Buffer[] = [];
        for (let i = 0; i < count; i++) {
          const renewal = renewalOf();
          sentAt.set(renewal.sequence, performance.now());
          frames.push(renewal.bytes);
        }
        if (frames.length > 0) stream.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
      };
      let pending: Buffer = Buffer.alloc(0);
      let closing = false;
      stream.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let answered = 0;
        while (pending.length >= FRAME_PREFIX) {
          const length = pending.readUInt32BE(1);
          if (pending.length < FRAME_PREFIX + length) break;
          const response = responseCodec.decode(pending.subarray(FRAME_PREFIX, FRAME_PREFIX + length)) as { sequence: number; refusal: { refusalCode: string; message: string } | null };
          pending = pending.subarray(FRAME_PREFIX + length);
          const at = sentAt.get(response.sequence);
          sentAt.delete(response.sequence);
          if (response.refusal) {
            failures++;
            note(`refused: ${response.refusal.refusalCode || response.refusal.message.slice(0, 80)}`);
          } else {
            renewals++;
            if (at !== undefined) latenciesMs.push(performance.now() - at);
          }
          answered++;
        }
        if (performance.now() < until) send(answered);
        else if (!closing && sentAt.size === 0) {
          closing = true;
          stream.end();
        }
      });
      const finished = (problem: string | null) => {
        if (problem !== null && sentAt.size > 0) {
          failures += sentAt.size;
          note(problem);
        }
        sentAt.clear();
        resolve();
      };
      stream.on('trailers', (trailers) => {
        const status = Number(trailers['grpc-status'] ?? 0);
        if (status !== 0) note(`stream ended with status ${status}: ${String(trailers['grpc-message'] ?? '')}`);
      });
      stream.on('error', (error) => finished(`stream: ${error.message}`));
      stream.on('close', () => finished(closing ? null : 'stream closed before its renewals were answered'));
      send(slots);
    });

  const streamCount = Math.max(1, Math.min(streams, inFlight));
  await Promise.all(Array.from({ length: streamCount }, (_, s) => runStream(Math.floor(inFlight / streamCount) + (s < inFlight % streamCount ? 1 : 0))));
  session.close();
  return { renewals, failures, latenciesMs, problems };
}
