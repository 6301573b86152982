import { AddressInfo, createConnection, createServer, NetConnectOpts, Server, Socket } from 'node:net';
import { serverEnv } from './test-database';

interface Link {
  client: Socket;
  upstream: Socket;
  /** What the client sent first (its startup message, naming the connection's application_name). */
  startup: string;
  silent: boolean;
  /** Whether the client has closed its side (sent its FIN), which a silent link does not answer. */
  closedByClient: boolean;
}

/**
 * A TCP proxy to the test server that can make chosen connections go silent: their bytes are dropped both ways
 * while both sockets stay open, as when a NAT or firewall entry is dropped or the server's host vanishes (no FIN,
 * no RST): a client's close (its FIN) is not answered either, and the connection to the server stays open until
 * `close()`.
 */
export class SilentProxy {
  private readonly links = new Set<Link>();
  private readonly startups: string[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<SilentProxy> {
    const proxy = new SilentProxy(createServer({ allowHalfOpen: true }, (client) => proxy.link(client)));
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * The connections whose startup message contains `text` (an application_name), silent or not, that the client has
   * not closed.
   */
  connections(text: string): number {
    return [...this.links].filter((link) => link.startup.includes(text) && !link.closedByClient).length;
  }

  /** The connections ever made whose startup message contains `text`. */
  connectionsMade(text: string): number {
    return this.startups.filter((startup) => startup.includes(text)).length;
  }

  /** Silences the connections whose startup message contains `text` that the client has not closed; how many. */
  silence(text: string): number {
    let silenced = 0;
    for (const link of this.links) {
      if (!link.startup.includes(text) || link.silent || link.closedByClient) continue;
      link.silent = true;
      silenced++;
    }
    return silenced;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.links) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((resolve) => this.server.close(resolve));
  }

  private link(client: Socket): void {
    const upstream = createConnection({ ...upstreamAddress(), allowHalfOpen: true });
    const link: Link = { client, upstream, startup: '', silent: false, closedByClient: false };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (!link.startup) {
        link.startup = chunk.toString('latin1');
        this.startups.push(link.startup);
      }
      if (!link.silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!link.silent) client.write(chunk);
    });
    // Each side's close passed on, unless silent (both sockets are half-open: Node would answer a FIN itself).
    client.on('end', () => {
      link.closedByClient = true;
      if (!link.silent) upstream.end();
    });
    upstream.on('end', () => {
      if (!link.silent) client.end();
    });
    const unlink = () => {
      client.destroy();
      upstream.destroy();
      this.links.delete(link);
    };
    for (const socket of [client, upstream]) {
      socket.on('close', unlink);
      socket.on('error', unlink);
    }
  }
}

/** The test server: a Unix socket when DB_HOST is a directory (the embedded server), else TCP. */
function upstreamAddress(): NetConnectOpts {
  const { DB_HOST, DB_PORT } = serverEnv();
  return DB_HOST.startsWith('/')
    ? { path: `${DB_HOST}/.s.PGSQL.${DB_PORT}` }
    : { host: DB_HOST, port: Number(DB_PORT) };
}
