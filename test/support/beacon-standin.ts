import { createServer, type Server } from 'node:http';

/**
 * A beacon node's validator endpoint as the Beacon API publishes it (GET
 * /eth/v1/beacon/states/{state_id}/validators/{validator_id}: 200 with data.status, 404 for an unknown
 * validator), for validators the test declares. No beacon chain runs on these machines.
 */
export class BeaconStandIn {
  /** pubkey (0x, lower case) → validator status. */
  readonly validators = new Map<string, string>();
  readonly asked: string[] = [];

  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(): Promise<BeaconStandIn> {
    let standIn: BeaconStandIn | null = null;
    const server = createServer((request, response) => {
      const match = /^\/eth\/v1\/beacon\/states\/head\/validators\/(0x[0-9a-fA-F]{96})$/.exec(request.url ?? '');
      if (request.method !== 'GET' || !match) {
        response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 400, message: 'Invalid request' }));
        return;
      }
      const pubkey = match[1]!.toLowerCase();
      standIn!.asked.push(pubkey);
      const status = standIn!.validators.get(pubkey);
      if (!status) {
        response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 404, message: 'Validator not found' }));
        return;
      }
      const data = {
        index: String([...standIn!.validators.keys()].indexOf(pubkey)),
        balance: '32000000000',
        status,
        validator: { pubkey, withdrawal_credentials: '0x01' + '00'.repeat(31), effective_balance: '32000000000', slashed: false, activation_eligibility_epoch: '0', activation_epoch: '0', exit_epoch: '18446744073709551615', withdrawable_epoch: '18446744073709551615' },
      };
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ execution_optimistic: false, finalized: false, data }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    standIn = new BeaconStandIn(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    return standIn;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
