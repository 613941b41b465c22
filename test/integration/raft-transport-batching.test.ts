/**
 * PeerTransport over real gRPC on loopback: the messages queued for a peer in one turn of the event
 * loop (or until flush()) travel in one envelope, and every one of them arrives, in order, as sent.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PeerTransport } from '../../coordinator/replication/raft/peer-transport.js';
import type { AppendMessage, Message } from '../../coordinator/raft/types.js';
import { silentLogger } from '../../shared/log/logger.js';
import { eventually } from '../support/coordinator-fixture.js';
import { freePorts } from '../support/ports.js';

function transport(id: string, port: number, peers: Map<string, string>, received: Message[]): PeerTransport {
  return new PeerTransport({
    replicaId: id,
    listenHost: '127.0.0.1',
    listenPort: port,
    peers,
    advertisedRaftAddress: `127.0.0.1:${port}`,
    advertisedAgentEndpoint: `127.0.0.1:1`,
    tls: null,
    onMessage: (m) => received.push(m),
    logger: silentLogger,
  });
}

/**
 * Transports a and b connected to each other, started; `run` gets them and what each received, and both
 * are closed after it.
 */
interface Pair {
  readonly a: PeerTransport;
  readonly b: PeerTransport;
  readonly atA: Message[];
  readonly atB: Message[];
}

async function withPair(run: (pair: Pair) => Promise<void>): Promise<void> {
  const [portA, portB] = (await freePorts(2)) as [number, number];
  const atA: Message[] = [];
  const atB: Message[] = [];
  const a = transport('a', portA, new Map([['b', `127.0.0.1:${portB}`]]), atA);
  const b = transport('b', portB, new Map([['a', `127.0.0.1:${portA}`]]), atB);
  try {
    await a.start();
    await b.start();
    await run({ a, b, atA, atB });
  } finally {
    await a.close();
    await b.close();
  }
}

const append = (n: number): AppendMessage => ({
  type: 'append',
  from: 'a',
  to: 'b',
  term: 1,
  index: n,
  logTerm: 1,
  entries: [{ index: n + 1, term: 1, type: 'normal', data: JSON.stringify({ n }) }],
  commit: 0,
});

test('messages sent in one turn arrive together, all of them, in order; later turns keep the order', async () => {
  await withPair(async ({ a, b, atA, atB }) => {
    for (let n = 0; n < 50; n++) a.send(append(n));
    await eventually(async () => (atB.length === 50 ? true : undefined), 10_000, 'the first 50 messages at b');
    for (let n = 50; n < 60; n++) a.send(append(n));
    await new Promise((resolve) => setImmediate(resolve));
    for (let n = 60; n < 70; n++) a.send(append(n));
    await eventually(async () => (atB.length === 70 ? true : undefined), 10_000, 'all 70 messages at b');
    assert.equal(atB.map((m) => (m as AppendMessage).index), Array.from({ length: 70 }, (_, n) => n));
    assert.equal(atB[7], append(7), 'a message arrives exactly as sent');
    assert.is(b.agentEndpointOf('a'), '127.0.0.1:1', 'the envelope still names the sender');
    assert.equal(atA, []);
  });
});

test('flush() sends what is queued at once; later messages of the same turn follow, each exactly once, in order', async () => {
  await withPair(async ({ a, atB }) => {
    for (let n = 0; n < 5; n++) a.send(append(n));
    a.flush();
    for (let n = 5; n < 10; n++) a.send(append(n));
    a.flush();
    a.flush(); // nothing queued: sends nothing
    a.send(append(10)); // left to the end of the turn
    await eventually(async () => (atB.length >= 11 ? true : undefined), 10_000, 'all 11 messages at b');
    // A later message, sent after the others arrived: anything duplicated would have arrived before it.
    a.send(append(11));
    await eventually(async () => (atB.some((m) => (m as AppendMessage).index === 11) ? true : undefined), 10_000, 'the last message at b');
    assert.equal(atB.map((m) => (m as AppendMessage).index), Array.from({ length: 12 }, (_, n) => n));
  });
});

test('a message whose sender differs from its envelope is dropped; the rest of the envelope arrives', async () => {
  await withPair(async ({ a, atB }) => {
    a.send(append(1));
    a.send({ ...append(2), from: 'c' });
    a.send(append(3));
    await new Promise((resolve) => setImmediate(resolve));
    // The stream keeps order: once this later message is in, the envelope before it was handled.
    a.send(append(4));
    await eventually(async () => (atB.some((m) => (m as AppendMessage).index === 4) ? true : undefined), 10_000, 'the last message at b');
    assert.equal(atB.map((m) => (m as AppendMessage).index), [1, 3, 4]);
  });
});

test('keepConnected connects to a peer before there is anything to send, and delivers nothing', async () => {
  await withPair(async ({ a, b, atB }) => {
    assert.is(a.channelReady('b'), false, 'nothing sent, nothing dialled');
    a.keepConnected('b');
    await eventually(async () => (a.channelReady('b') ? true : undefined), 10_000, 'a connected to b');
    assert.equal(atB, [], 'an idle stream carries no message');
    assert.is(b.channelReady('a'), false, 'b dialled nobody');
  });
});

test.run();
