/**
 * Runs inside the node cluster's network namespace (started by node-cluster.ts through nsenter): the
 * cluster DNS on the node address, and a relay from a Unix socket (which every network namespace can
 * reach) to the API server, so kubectl on the machine's own loopback can reach it too.
 *   node --import tsx netns-helper.ts CONFIG_JSON
 */
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { startClusterDns } from './cluster-dns.js';

interface HelperConfig {
  readonly dnsHost: string;
  readonly apiServer: string;
  readonly apiPort: number;
  readonly caFile: string;
  readonly tokenFile: string;
  readonly relaySocket: string;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as HelperConfig;
const dns = await startClusterDns(config.dnsHost, 53, {
  server: config.apiServer,
  ca: readFileSync(config.caFile),
  token: readFileSync(config.tokenFile, 'utf8').trim(),
});
const relay = createServer((client) => {
  const upstream = connect(config.apiPort, '127.0.0.1');
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
relay.listen(config.relaySocket, () => process.stdout.write('netns helper ready\n'));
const stop = () => {
  dns.close();
  relay.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
