/** A UDP tracker client for tests (BEP 15): connect, then announces matched to replies by transaction id. */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { encodeAnnounceRequest, encodeConnectRequest, type UdpAnnounceRequest } from '../../src/bittorrent/udp-codec.js';

export class UdpClient {
  private readonly sock: Socket;
  private waiter: { tid: number; done: (b: Buffer) => void } | undefined;
  private tid = 1000;

  constructor(private readonly port: number, private readonly host = '127.0.0.1') {
    this.sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    // Replies are matched by transaction id; stray replies (to fire-and-forget packets) are ignored.
    this.sock.on('message', (m) => {
      if (this.waiter && m.length >= 8 && m.readUInt32BE(4) === this.waiter.tid) this.waiter.done(m);
    });
  }

  /** Sends and waits for the reply carrying the packet's transaction id, or resolves undefined after `ms`. */
  ask(pkt: Buffer, ms = 2000): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const tid = pkt.length >= 16 ? pkt.readUInt32BE(12) : -1;
      const timer = setTimeout(() => { this.waiter = undefined; resolve(undefined); }, ms);
      this.waiter = { tid, done: (b) => { clearTimeout(timer); this.waiter = undefined; resolve(b); } };
      this.sock.send(pkt, this.port, this.host);
    });
  }

  /** Sends without waiting (packets that get no reply). */
  fire(pkt: Buffer): void {
    this.sock.send(pkt, this.port, this.host);
  }

  async connect(): Promise<Buffer> {
    const tid = ++this.tid;
    const reply = (await this.ask(encodeConnectRequest(tid)))!;
    assert.ok(reply, 'no reply to connect');
    assert.equal(reply.readUInt32BE(0), 0);
    assert.equal(reply.readUInt32BE(4), tid);
    return reply.subarray(8, 16);
  }

  /** Connects, announces, and returns the reply: `{ok: true}` or `{error: message}`. */
  async announce(over: Partial<UdpAnnounceRequest>): Promise<{ error?: string; reply: Buffer }> {
    const connectionId = await this.connect();
    const pkt = encodeAnnounceRequest({
      connectionId, transactionId: ++this.tid, infoHash: Buffer.alloc(20, 0xaa), peerId: Buffer.from('-qB4520-000000000001'),
      downloaded: 0, left: 100, uploaded: 0, event: 'started', ip: 0, key: 1, numWant: -1, port: 6881, urlData: '', ...over,
    });
    const reply = await this.ask(pkt);
    assert.ok(reply, 'no reply to announce');
    return { reply, error: reply.readUInt32BE(0) === 3 ? reply.toString('utf8', 8) : undefined };
  }

  close(): void {
    this.sock.close();
  }
}
