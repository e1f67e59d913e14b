/**
 * A recording HTTP proxy between real clients and privtrak: it forwards every byte both ways
 * and notes each announce request (the counters a client sent, its User-Agent, when) and whether
 * privtrak refused it. The site scenario tests compute, from these records alone, what the
 * site's own announce server would have written (test/sites/*-model.ts), independently of
 * privtrak's code, and compare the site's tables with that.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { decodeQuery } from '../../src/bittorrent/query.js';

export interface RecordedAnnounce {
  /** Epoch ms when the request reached the proxy. */
  readonly timeMs: number;
  readonly path: string;
  readonly infoHash: Buffer;
  readonly peerId: Buffer;
  readonly port: number;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event: 'started' | 'completed' | 'stopped' | 'none';
  readonly userAgent: string;
  /** Set once privtrak answered: its failure reason, or '' for a served announce. */
  failure: string | undefined;
}

function parseRequest(head: string, timeMs: number): RecordedAnnounce | undefined {
  const line = head.slice(0, head.indexOf('\r\n'));
  const m = /^GET (\S+) HTTP\/1\.[01]$/.exec(line);
  if (m === null) return undefined;
  const target = m[1]!;
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const fields: Record<string, string> = {};
  decodeQuery(target.slice(q + 1), (k, v) => { fields[k] = v; });
  if (fields['info_hash'] === undefined || fields['peer_id'] === undefined) return undefined;
  const ua = /\r\nuser-agent:\s*([^\r]*)/i.exec(head);
  const ev = fields['event'];
  return {
    timeMs, path: target.slice(0, q),
    infoHash: Buffer.from(fields['info_hash'], 'latin1'), peerId: Buffer.from(fields['peer_id'], 'latin1'),
    port: Number(fields['port']), uploaded: Number(fields['uploaded']), downloaded: Number(fields['downloaded']), left: Number(fields['left']),
    event: ev === 'started' || ev === 'completed' || ev === 'stopped' ? ev : 'none',
    userAgent: ua?.[1]?.trim() ?? '', failure: undefined,
  };
}

export class AnnounceRecorder {
  readonly announces: RecordedAnnounce[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly upstreamPort: number) {}

  async listen(port = 0): Promise<number> {
    this.server = createServer((client) => this.onClient(client));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  /** The announces privtrak served (not refused), in the order they arrived. */
  served(): RecordedAnnounce[] {
    return this.announces.filter((a) => a.failure === '');
  }

  private onClient(client: Socket): void {
    const upstream = connect({ port: this.upstreamPort, host: '127.0.0.1' });
    this.sockets.add(client).add(upstream);
    const waiting: Array<RecordedAnnounce | undefined> = [];
    let rx = '';
    let tx = Buffer.alloc(0);
    client.on('data', (chunk) => {
      rx += chunk.toString('latin1');
      for (;;) {
        const end = rx.indexOf('\r\n\r\n');
        if (end < 0) break;
        const rec = parseRequest(rx.slice(0, end + 2), Date.now());
        if (rec !== undefined) this.announces.push(rec);
        waiting.push(rec);
        rx = rx.slice(end + 4);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      tx = Buffer.concat([tx, chunk]);
      for (;;) {
        const end = tx.indexOf('\r\n\r\n');
        if (end < 0) break;
        const len = Number(/content-length:\s*(\d+)/i.exec(tx.toString('latin1', 0, end))?.[1] ?? 0);
        if (tx.length < end + 4 + len) break;
        const body = tx.subarray(end + 4, end + 4 + len).toString('latin1');
        const rec = waiting.shift();
        if (rec !== undefined) {
          const f = /14:failure reason(\d+):/.exec(body);
          rec.failure = f === null ? '' : body.slice(f.index + f[0].length, f.index + f[0].length + Number(f[1]));
        }
        tx = tx.subarray(end + 4 + len);
      }
      client.write(chunk);
    });
    const done = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
