/**
 * The HTTP frontend's control seam (src/frontend/control.ts): a site's admin calls (UNIT3D's
 * push API, Gazelle's /update) on the announce listener. Paths the handler claims take any
 * method and a Content-Length body, read whole even when it arrives in pieces; everything else
 * is still the announce path, where bodies are refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createHttpFrontend } from '../../../src/frontend/http/server.js';
import { httpSchema } from '../../../src/config/schema.js';
import type { ControlHandler, ControlRequest } from '../../../src/frontend/control.js';
import type { Frontend } from '../../../src/frontend/frontend.js';
import { pipeline } from '../../support/harness.js';
import { escapeBytes, parseReply, rawRequest } from '../../support/http-client.js';

const PASSKEY = '0123456789abcdef0123456789abcdef';

/** Claims /control/…; echoes what it got as JSON; /control/boom throws, /control/late answers after a delay. */
function echoHandler(seen: ControlRequest[]): ControlHandler {
  return {
    matches: (path) => path.startsWith('/control/'),
    async handle(req) {
      seen.push(req);
      if (req.path === '/control/boom') throw new Error('handler exploded');
      if (req.path === '/control/late') await new Promise((r) => setTimeout(r, 30));
      return {
        status: req.method === 'DELETE' ? 204 : 200,
        contentType: 'application/json',
        body: JSON.stringify({ method: req.method, path: req.path, query: req.query, body: req.body.toString('utf8') }),
      };
    },
  };
}

function put(path: string, body: string, extraHeaders = ''): string {
  return `PUT ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`;
}

/** Sends `parts` with a pause between them (a body arriving in several TCP segments). */
function sendInParts(port: number, parts: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' }, async () => {
      for (const p of parts) {
        socket.write(p);
        await new Promise((r) => setTimeout(r, 40));
      }
    });
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}

for (const transport of ['raw', 'net'] as const) {
  describe(`http control channel (${transport})`, () => {
    const seen: ControlRequest[] = [];
    let fe: Frontend;

    before(async () => {
      const p = pipeline();
      const cfg = httpSchema.parse({ addr: '127.0.0.1:0', announce_routes: ['/:passkey/announce'], transport, max_buffered_bytes: 16384, max_request_size: 4096 });
      fe = createHttpFrontend(cfg, { ...p.deps, control: echoHandler(seen) });
      await fe.listen();
    });
    after(() => fe.close());

    it('hands a PUT with a JSON body to the handler, with its path and query, and writes its reply and content type', async () => {
      const body = JSON.stringify({ id: 7, passkey: 'x'.repeat(32), can_download: true, name: 'ünïcode' });
      const r = parseReply(await rawRequest(fe.port(), put('/control/users?x=1', body)));
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'] ?? '', /application\/json/);
      assert.deepEqual(JSON.parse(r.body.toString()), { method: 'PUT', path: '/control/users', query: 'x=1', body });
      assert.equal(seen.at(-1)!.ip, '127.0.0.1');
    });

    it('waits for a body that arrives in pieces', async () => {
      const body = JSON.stringify({ peer_id_prefix: '-XX0001-', padding: 'p'.repeat(3000) });
      const whole = put('/control/blacklisted-agents', body);
      const cut1 = whole.indexOf('\r\n\r\n') + 10;
      const r = parseReply(await sendInParts(fe.port(), [whole.slice(0, 20), whole.slice(20, cut1), whole.slice(cut1, cut1 + 1000), whole.slice(cut1 + 1000)]));
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body.toString()).body, body);
    });

    it('answers GET and DELETE without a body, and asynchronous handlers', async () => {
      const g = parseReply(await rawRequest(fe.port(), 'GET /control/late?get=stats HTTP/1.1\r\nHost: t\r\n\r\n'));
      assert.equal(g.status, 200);
      assert.equal(JSON.parse(g.body.toString()).query, 'get=stats');
      const d = parseReply(await rawRequest(fe.port(), 'DELETE /control/users HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n'));
      assert.equal(d.status, 204);
    });

    it('refuses a body of unknown length (411) and one larger than the buffer allows (413), and still serves', async () => {
      const chunked = parseReply(await rawRequest(fe.port(), 'PUT /control/users HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
      assert.equal(chunked.status, 411);
      const big = parseReply(await rawRequest(fe.port(), put('/control/users', 'x'.repeat(20_000))));
      assert.equal(big.status, 413);
      const ok = parseReply(await rawRequest(fe.port(), put('/control/users', '{}')));
      assert.equal(ok.status, 200);
    });

    it('a handler that throws gets a 500 and the frontend goes on', async () => {
      const r = parseReply(await rawRequest(fe.port(), put('/control/boom', '{}')));
      assert.equal(r.status, 500);
      assert.equal(r.body.toString(), 'internal server error');
      const ok = parseReply(await rawRequest(fe.port(), put('/control/users', '{}')));
      assert.equal(ok.status, 200);
    });

    it('paths the handler does not claim are the announce path: announces answered, bodies and other methods refused', async () => {
      const a = parseReply(await rawRequest(fe.port(), `GET /${PASSKEY}/announce?info_hash=${escapeBytes(Buffer.alloc(20, 1))}&peer_id=${escapeBytes(Buffer.alloc(20, 2))}&port=6881&uploaded=0&downloaded=0&left=1 HTTP/1.1\r\nHost: t\r\n\r\n`));
      assert.equal(a.status, 200);
      assert.match(a.body.toString('latin1'), /8:interval/);
      const withBody = parseReply(await rawRequest(fe.port(), put(`/${PASSKEY}/announce`, '{}')));
      assert.equal(withBody.status, 405);
      const post = parseReply(await rawRequest(fe.port(), `GET /${PASSKEY}/announce HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}`));
      assert.equal(post.status, 400);
    });
  });
}
