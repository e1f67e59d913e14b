/**
 * A tiny TCP proxy on 127.0.0.1 for outage drills: point a sink's URL at it, then cut the
 * database off without touching the shared server.
 *
 *   open       new connections are forwarded to the target (the start state, and `restore()`)
 *   refuse     new connections are reset at once (a server that is down: ECONNRESET)
 *   blackhole  new connections are accepted and never answered (a partition: packets vanish)
 *
 * `cut()` resets every connection forwarded so far; `freeze()` keeps them open but stops
 * forwarding either way (a hung server or a partition mid-query: no RST ever comes). `restore()`
 * destroys what was held or frozen (as a real partition's connections die eventually) and
 * forwards new connections again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode = 'open' | 'refuse' | 'blackhole';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  frozen: boolean;
}

export class TcpProxy {
  private mode: ProxyMode = 'open';
  private readonly pairs = new Set<Pair>();
  /** Connections accepted in blackhole mode, held without a byte exchanged. */
  private readonly held = new Set<Socket>();
  /** Every open socket, both sides. */
  private readonly sockets = new Set<Socket>();
  /** Connections accepted, by how they were treated. */
  readonly counts = { forwarded: 0, refused: 0, blackholed: 0 };

  private constructor(private readonly server: Server, readonly port: number, private readonly target: { host: string; port: number }) {
    server.on('connection', (s) => this.accept(s));
  }

  /** Listens on 127.0.0.1, an ephemeral port, forwarding to `target`. */
  static start(target: { host: string; port: number }): Promise<TcpProxy> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const a = server.address();
        resolve(new TcpProxy(server, typeof a === 'object' && a !== null ? a.port : 0, target));
      });
    });
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  get live(): number {
    return this.pairs.size;
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    this.track(client);
    if (this.mode === 'refuse') {
      this.counts.refused++;
      client.resetAndDestroy();
      return;
    }
    if (this.mode === 'blackhole') {
      this.counts.blackholed++;
      this.held.add(client);
      client.pause();
      client.on('close', () => this.held.delete(client));
      return;
    }
    this.counts.forwarded++;
    const upstream = connect(this.target.port, this.target.host);
    upstream.on('error', () => undefined);
    this.track(upstream);
    const pair: Pair = { client, upstream, frozen: false };
    this.pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (!pair.frozen) to.write(chunk);
      });
      from.on('close', () => {
        // A frozen pair stays listed (restore() ends it): its paused ends would not notice a FIN.
        if (pair.frozen) return;
        this.pairs.delete(pair);
        to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
  }

  /** Resets every forwarded connection (both ends see the connection die). */
  cut(): void {
    for (const p of this.pairs) {
      p.client.resetAndDestroy();
      p.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Forwarded connections stay open but carry nothing more, either way; new ones are black-holed. */
  freeze(): void {
    this.mode = 'blackhole';
    for (const p of this.pairs) {
      p.frozen = true;
      p.client.pause();
      p.upstream.pause();
    }
  }

  /** Destroys held and frozen connections and forwards new ones again. */
  restore(): void {
    for (const s of this.held) s.destroy();
    this.held.clear();
    for (const p of [...this.pairs]) {
      if (!p.frozen) continue;
      p.client.destroy();
      p.upstream.destroy();
      this.pairs.delete(p);
    }
    this.mode = 'open';
  }

  /** Closes the listener and every socket it ever opened (server.close() waits for all of them). */
  close(): Promise<void> {
    this.pairs.clear();
    this.held.clear();
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }
}
