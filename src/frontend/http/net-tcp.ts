/**
 * A TCP listener on node:net: the portable fallback for `raw-tcp.ts` (public APIs only),
 * chosen with `http.transport: net` or when the libuv bindings are unavailable.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Connection, ConnectionHandlers, ListenerOptions, TcpListener } from './connection.js';

class NetConnection implements Connection {
  rx = '';
  inFlight = false;
  deadline = 0;
  done = false;
  closed = false;
  /** The client half-closed while its request was in flight: end once the reply is written. */
  endAfterWrite = false;

  constructor(readonly socket: Socket) {}

  remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  noDelay(): void {
    // Set for every socket at accept (createServer({ noDelay: true })).
  }

  write(data: Buffer): void {
    if (this.closed) return;
    if (this.endAfterWrite) this.socket.end(data);
    else this.socket.write(data);
  }

  shutdown(): void {
    if (!this.closed) this.socket.end();
  }

  close(): void {
    if (!this.closed) this.socket.destroy();
  }
}

export class NetTcpListener implements TcpListener {
  private readonly server: Server;

  constructor(private readonly handlers: ConnectionHandlers, opts: ListenerOptions) {
    // allowHalfOpen: a client may half-close right after its request; its reply must still be written.
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.maxConnections = opts.maxConnections;
  }

  listen(host: string | undefined, port: number, backlog: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    const conn = new NetConnection(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      conn.closed = true;
      this.handlers.onClose(conn);
    });
    socket.on('data', (chunk: Buffer) => this.handlers.onData(conn, chunk.toString('latin1')));
    socket.on('end', () => {
      if (conn.inFlight) conn.endAfterWrite = true;
      else socket.end();
    });
    this.handlers.onConnection(conn);
  }
}

export function createNetTcpListener(handlers: ConnectionHandlers, opts: ListenerOptions): TcpListener {
  return new NetTcpListener(handlers, opts);
}
