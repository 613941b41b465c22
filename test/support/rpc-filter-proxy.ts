import { createServer, type Server } from 'node:http';

/**
 * A JSON-RPC proxy in front of an Ethereum node that can refuse chosen methods, as a flaky endpoint or a
 * cut network would: lets a test stop broadcasts (eth_sendRawTransaction) while reads still work.
 */
export class RpcFilterProxy {
  readonly refused = new Set<string>();
  /** How many calls of each method were refused. */
  readonly refusedCalls = new Map<string, number>();
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(upstreamUrl: string): Promise<RpcFilterProxy> {
    let proxy: RpcFilterProxy | null = null;
    const server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      let methods: string[] = [];
      try {
        const parsed = JSON.parse(body) as { method?: string } | Array<{ method?: string }>;
        methods = (Array.isArray(parsed) ? parsed : [parsed]).map((call) => String(call.method));
      } catch {
        // forwarded as it is
      }
      if (methods.some((method) => proxy?.refused.has(method))) {
        for (const method of methods) proxy!.refusedCalls.set(method, (proxy!.refusedCalls.get(method) ?? 0) + 1);
        response.destroy();
        return;
      }
      const answer = await fetch(upstreamUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new RpcFilterProxy(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    return proxy;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
