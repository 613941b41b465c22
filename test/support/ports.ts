import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Ports below the kernel's ephemeral range: a port the OS hands out for listen(0) lies inside that range,
 * where any outgoing connection made meanwhile may take it before the process that was told it binds it
 * (bench:raft saw EADDRINUSE so). Below the range only listeners compete.
 */
function candidateRange(): { low: number; high: number } {
  try {
    const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (ephemeralLow !== undefined && ephemeralLow > 12_000) return { low: 10_000, high: ephemeralLow - 1 };
  } catch {
    // Not Linux: fall back to the OS's choice.
  }
  return { low: 0, high: 0 };
}

function bindable(port: number): Promise<ReturnType<typeof createServer> | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** Ports free now, for processes that must know each other's ports before they start. */
export async function freePorts(count: number): Promise<number[]> {
  const { low, high } = candidateRange();
  const servers: Array<ReturnType<typeof createServer>> = [];
  try {
    for (let attempts = 0; servers.length < count; attempts++) {
      if (attempts > count * 50) throw new Error(`found only ${servers.length} of ${count} free ports`);
      const port = low === 0 ? 0 : low + Math.floor(Math.random() * (high - low + 1));
      const server = await bindable(port);
      if (server) servers.push(server);
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}
