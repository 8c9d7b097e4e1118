// A TCP proxy in front of the test PostgreSQL, for failures that pg_terminate_backend
// cannot produce: a connection that stays open but carries nothing (a network partition,
// a stuck middlebox), and a server that refuses new connections for a while.
import net from 'node:net';

export interface TcpProxy {
  /** `databaseUrl` with its host and port replaced by the proxy's */
  url: string;
  /** Existing connections stop carrying bytes either way; their sockets stay open. */
  blackhole(): void;
  /** Bytes from the server reach the client this much later (in order); 0 ends the delay. */
  delay(ms: number): void;
  /** Existing connections are closed (both sides see the connection end). */
  dropAll(): void;
  /** While on, new connections are closed as soon as they are accepted. */
  refuse(on: boolean): void;
  /** connections currently open through the proxy */
  open(): number;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  silent: boolean;
}

export async function startProxy(databaseUrl: string): Promise<TcpProxy> {
  const target = new URL(databaseUrl);
  const pairs = new Set<Pair>();
  let refusing = false;
  let delayMs = 0;

  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    const pair: Pair = { client, upstream, silent: false };
    pairs.add(pair);
    client.on('data', (chunk) => {
      if (!pair.silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (pair.silent) return;
      // Equal delays keep the order: timers of the same duration fire in the order set.
      if (delayMs > 0) setTimeout(() => client.writable && !pair.silent && client.write(chunk), delayMs);
      else client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    url: url.toString(),
    blackhole: () => pairs.forEach((p) => (p.silent = true)),
    delay: (ms) => (delayMs = ms),
    dropAll: () => pairs.forEach((p) => p.client.destroy()),
    refuse: (on) => (refusing = on),
    open: () => pairs.size,
    close: async () => {
      pairs.forEach((p) => {
        p.client.destroy();
        p.upstream.destroy();
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
