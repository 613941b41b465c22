/**
 * The node cluster's DNS, in place of CoreDNS (which Debian does not ship): answers A queries for
 * `<service>.<namespace>.svc.cluster.local` (the ClusterIP, or a headless Service's endpoint addresses)
 * and `<hostname>.<service>.<namespace>.svc.cluster.local` (a StatefulSet pod under its governing
 * headless Service), asking the API server at each query so a restarted pod's new address is seen at
 * once. Everything else is NXDOMAIN: the cluster's network has no way out. UDP only, one question per
 * query, as the resolvers in the pods send them.
 */
import { createSocket, type Socket } from 'node:dgram';
import { request } from 'node:https';

export interface ApiAccess {
  readonly server: string;
  readonly ca: Buffer;
  readonly token: string;
}

const DOMAIN = '.svc.cluster.local';
const TYPE_A = 1;
const TYPE_ANY = 255;
const RCODE_NXDOMAIN = 3;
const RCODE_SERVFAIL = 2;

export async function startClusterDns(host: string, port: number, api: ApiAccess): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    answer(query, api)
      .then((reply) => reply && socket.send(reply, peer.port, peer.address))
      .catch(() => {}); // a lost reply is retried by the resolver
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => resolve());
  });
  return socket;
}

interface Question {
  readonly name: string;
  readonly type: number;
  /** Where the question section ends in the query. */
  readonly end: number;
}

function parseQuestion(query: Buffer): Question | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    const length = query[at];
    if (length === undefined || length > 63 || at + 1 + length > query.length) return undefined;
    at += 1;
    if (length === 0) break;
    labels.push(query.subarray(at, at + length).toString('latin1').toLowerCase());
    at += length;
  }
  if (at + 4 > query.length) return undefined;
  return { name: labels.join('.'), type: query.readUInt16BE(at), end: at + 4 };
}

async function answer(query: Buffer, api: ApiAccess): Promise<Buffer | undefined> {
  const question = parseQuestion(query);
  if (!question) return undefined;
  let addresses: string[] | undefined;
  try {
    addresses = await lookup(question.name, api);
  } catch {
    return reply(query, question, RCODE_SERVFAIL, []);
  }
  if (!addresses) return reply(query, question, RCODE_NXDOMAIN, []);
  return reply(query, question, 0, question.type === TYPE_A || question.type === TYPE_ANY ? addresses : []);
}

function reply(query: Buffer, question: Question, rcode: number, addresses: readonly string[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const recursionDesired = query.readUInt16BE(2) & 0x0100;
  header.writeUInt16BE(0x8000 | 0x0400 | recursionDesired | 0x0080 | rcode, 2); // QR, AA, RD, RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const records = addresses.map((ip) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(1, 6); // a TTL of 1 s: addresses change as pods restart
    record.writeUInt16BE(4, 10);
    ip.split('.').forEach((octet, i) => record.writeUInt8(Number(octet), 12 + i));
    return record;
  });
  return Buffer.concat([header, query.subarray(12, question.end), ...records]);
}

/** The addresses of a cluster name, or undefined when no such name exists. */
async function lookup(name: string, api: ApiAccess): Promise<string[] | undefined> {
  if (!name.endsWith(DOMAIN)) return undefined;
  const parts = name.slice(0, -DOMAIN.length).split('.');
  if (parts.length === 2) {
    const [service, namespace] = parts as [string, string];
    const svc = await get(api, `/api/v1/namespaces/${namespace}/services/${service}`);
    if (!svc) return undefined;
    const clusterIp = svc.spec?.clusterIP;
    if (clusterIp && clusterIp !== 'None') return [clusterIp];
    return endpointAddresses(await get(api, `/api/v1/namespaces/${namespace}/endpoints/${service}`)).map((a) => a.ip);
  }
  if (parts.length === 3) {
    const [hostname, service, namespace] = parts as [string, string, string];
    const endpoints = await get(api, `/api/v1/namespaces/${namespace}/endpoints/${service}`);
    const matching = endpointAddresses(endpoints).filter((a) => a.hostname === hostname);
    return matching.length ? matching.map((a) => a.ip) : undefined;
  }
  return undefined;
}

interface EndpointAddress {
  ip: string;
  hostname?: string;
}

function endpointAddresses(endpoints: any): EndpointAddress[] {
  const subsets: Array<{ addresses?: EndpointAddress[]; notReadyAddresses?: EndpointAddress[] }> = endpoints?.subsets ?? [];
  // The endpoints controller lists a Service's not-ready pods under `addresses` already when the Service
  // publishes them; otherwise they must not resolve.
  return subsets.flatMap((s) => s.addresses ?? []);
}

function get(api: ApiAccess, path: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request(`${api.server}${path}`, { ca: api.ca, headers: { authorization: `Bearer ${api.token}` }, timeout: 2000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 404) resolve(undefined);
        else if (res.statusCode === 200) resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        else reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
