/**
 * The native addon's socket call: sendLast puts a reply and FIN in one segment when the kernel
 * takes the whole reply, and leaves the connection open (no FIN) when it does not, so the caller
 * can write the rest. (Its mapping calls are tested with the journal: journal-segment.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { nativeOrSkip } from '../support/native.js';

/** A connected pair on loopback: the server side (whose fd sendLast gets) and the client side. */
async function pair(): Promise<{ server: Socket; client: Socket; close(): void }> {
  const srv = createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const accepted = once(srv, 'connection') as Promise<[Socket]>;
  const client = connect({ port: (srv.address() as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  const [server] = await accepted;
  await once(client, 'connect').catch(() => undefined);
  return { server, client, close: () => { server.destroy(); client.destroy(); srv.close(); } };
}

const fdOf = (s: Socket) => (s as unknown as { _handle: { fd: number } })._handle.fd;

describe('native addon: sendLast', () => {
  it('sends the reply and FIN: the client reads it all, then the end of the stream; its own side stays open', async (t) => {
    const addon = nativeOrSkip(t);
    if (addon === undefined) return;
    const { server, client, close } = await pair();
    try {
      const chunks: Buffer[] = [];
      client.on('data', (c: Buffer) => chunks.push(c));
      const ended = once(client, 'end');
      const reply = Buffer.from('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nde');
      assert.equal(addon.sendLast(fdOf(server), reply), reply.length);
      await ended;
      assert.deepEqual(Buffer.concat(chunks), reply);
      // A half-close: the server can still read what the client sends.
      const got = once(server, 'data');
      client.write('bye');
      assert.equal(String((await got)[0]), 'bye');
    } finally {
      close();
    }
  });

  it('takes what the kernel takes and sends no FIN when a large reply does not fit; a bad descriptor is -errno', async (t) => {
    const addon = nativeOrSkip(t);
    if (addon === undefined) return;
    const { server, client, close } = await pair();
    try {
      client.pause(); // read nothing yet: the buffers fill
      const big = Buffer.alloc(64 << 20, 0x61);
      const taken = addon.sendLast(fdOf(server), big);
      assert.ok(taken >= 0 && taken < big.length, `took ${taken} of ${big.length}`);
      let received = 0;
      let endedEarly = false;
      client.on('data', (c: Buffer) => { received += c.length; });
      client.on('end', () => { endedEarly = received < big.length; });
      client.resume();
      // The caller writes the rest and shuts down itself.
      const ended = once(client, 'end');
      server.end(big.subarray(taken));
      await ended;
      assert.equal(received, big.length);
      assert.equal(endedEarly, false, 'no FIN before the last byte');
    } finally {
      close();
    }
    assert.ok(addon.sendLast(1_000_000, Buffer.from('x')) < 0, 'EBADF');
  });
});
