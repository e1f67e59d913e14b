import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { get, escapeBytes } from '../support/http-client.js';
import { freePort, startTracker, waitExit, withConfig } from '../support/tracker-process.js';
import { privtrakOptionsSchema } from '../../src/middleware/privtrak/options.js';
import { hashedPasskeyKey } from '../../src/accounting/user-key.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');


describe('privtrak CLI', () => {
  it('serves HTTP and UDP from a config file, with the default private chain, and exits 0 on SIGTERM within seconds', async () => {
    const cfg = withConfig([
      'log_level: info',
      'metrics_addr: "127.0.0.1:0"',
      'http: {addr: "127.0.0.1:0"}',
      'udp: {addr: "127.0.0.1:0"}',
    ].join('\n'));
    // The default privtrak hook keeps its journal and SQLite file under ./data: run in a temp dir.
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', cfg.path], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dirname(cfg.path) });
    try {
      const ports: Record<string, number> = {};
      await new Promise<void>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error(`no start-up within 10 s: ${buf}`)), 10_000);
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          for (const line of buf.split('\n')) {
            if (!line.startsWith('{')) continue;
            try {
              const rec = JSON.parse(line) as { msg: string; frontend?: string; port?: number };
              if (rec.msg === 'listening' && rec.frontend) ports[rec.frontend] = rec.port!;
              if (rec.msg === 'privtrak started') {
                clearTimeout(timer);
                resolve();
              }
            } catch { /* a partial line */ }
          }
        });
        child.on('exit', (code) => reject(new Error(`exited early with ${code}: ${buf}`)));
      });
      assert.ok(ports['http']! > 0 && ports['udp']! > 0, JSON.stringify(ports));
      const q = `info_hash=${escapeBytes(Buffer.alloc(20, 9))}&peer_id=${escapeBytes(Buffer.alloc(20, 8))}&port=1234&uploaded=0&downloaded=0&left=0`;
      const reply = await get(ports['http']!, `/0123456789abcdef0123456789abcdef/announce?${q}&event=started`);
      assert.equal(reply.status, 200);
      assert.match(reply.body.toString('latin1'), /8:intervali1800e/);
      const anonymous = await get(ports['http']!, `/announce?${q}`);
      assert.equal(anonymous.status, 404, 'the private default has no passkey-less route');
      const badKey = await get(ports['http']!, `/not-a-passkey/announce?${q}`);
      assert.match(badKey.body.toString('latin1'), /malformed passkey/);
      // UDP connect answers with action 0 and our transaction id.
      const udpReply = await new Promise<Buffer>((resolve, reject) => {
        const sock = createSocket('udp4');
        const pkt = Buffer.from('0000041727101980000000000badf00d', 'hex');
        const timer = setTimeout(() => { sock.close(); reject(new Error('udp timeout')); }, 3000);
        sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
        sock.send(pkt, ports['udp']!, '127.0.0.1', (err) => err && reject(err));
      });
      assert.equal(udpReply.length, 16);
      assert.equal(udpReply.readUInt32BE(4), 0x0badf00d);
      const began = Date.now();
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exit, 0);
      assert.ok(Date.now() - began < 5000, `took ${Date.now() - began} ms to stop`);
      // The announce was flushed to the default SQLite sink at shutdown.
      const stats = spawnSync(process.execPath, [MAIN, 'stats', '--config', cfg.path, '--json'], { encoding: 'utf8', cwd: dirname(cfg.path) });
      assert.equal(stats.status, 0, stats.stderr);
      // Open mode: the user is a keyed hash of the passkey, under the secret the first start created (0600).
      const secretPath = join(dirname(cfg.path), 'data', 'user-key.secret');
      assert.equal(statSync(secretPath).mode & 0o777, 0o600);
      const key = hashedPasskeyKey(readFileSync(secretPath), '0123456789abcdef0123456789abcdef').toString('hex');
      assert.equal(stats.stdout.trim(), `{"user":"${key}","uploaded":0,"downloaded":0,"seed_time":0,"leech_time":0,"snatched":0}`);
      const byPasskey = spawnSync(process.execPath, [MAIN, 'stats', '--config', cfg.path, '--json', '--user', '0123456789ABCDEF0123456789ABCDEF'], { encoding: 'utf8', cwd: dirname(cfg.path) });
      assert.equal(byPasskey.stdout.trim(), stats.stdout.trim(), byPasskey.stderr);
      // --detail adds the raw bytes, and per torrent the site's torrent ID (none here: no torrent_approval).
      const detail = spawnSync(process.execPath, [MAIN, 'stats', '--config', cfg.path, '--json', '--by-torrent', '--detail'], { encoding: 'utf8', cwd: dirname(cfg.path) });
      assert.equal(detail.status, 0, detail.stderr);
      assert.deepEqual(Object.keys(JSON.parse(detail.stdout.trim())), ['user', 'info_hash', 'uploaded', 'downloaded', 'seed_time', 'leech_time', 'snatched', 'raw_uploaded', 'raw_downloaded', 'site_torrent_id']);
      assert.equal(JSON.parse(detail.stdout.trim()).site_torrent_id, null);
    } finally {
      child.kill('SIGKILL');
      cfg.cleanup();
    }
  });

  it('logs which HTTP transport and journal I/O it runs on, and reports them in privtrak_build_info', async () => {
    const [http, metrics] = [await freePort(), await freePort()];
    const cfg = withConfig(`metrics_addr: "127.0.0.1:${metrics}"\nhttp: {addr: "127.0.0.1:${http}"}\nudp: {addr: ""}\n`);
    let out = '';
    const child = await startTracker(cfg.path, { onOutput: (t) => { out += t; }, cwd: dirname(cfg.path) });
    try {
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.some((l) => l['msg'] === 'transport: raw' && l['transport'] === 'raw'), out);
      assert.ok(lines.some((l) => l['msg'] === 'journal_io: mmap' && l['journal_io'] === 'mmap'), out);
      const scrape = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      assert.match(scrape, new RegExp(`privtrak_build_info\\{version="[^"]+",node="${process.versions.node}",transport="raw",journal_io="mmap"\\} 1`));
    } finally {
      child.kill('SIGKILL');
      await waitExit(child);
    }
    // The other paths say why: node:net configured (information), the addon unavailable under auto
    // (a warning: a fallback). Without the addon the raw transport half-closes with a separate
    // shutdown: a client reading to the end of the stream still gets its end at once.
    const q = `info_hash=${escapeBytes(Buffer.alloc(20, 9))}&peer_id=${escapeBytes(Buffer.alloc(20, 8))}&port=1234&uploaded=0&downloaded=0&left=0`;
    try {
      for (const [yaml, env] of [['transport: net', {}], ['transport: auto', { PRIVTRAK_NO_NATIVE: '1' }]] as const) {
        // keep_alive off: the reply below must end the stream (the half-close is what is checked).
        writeFileSync(cfg.path, `metrics_addr: ""\nhttp: {addr: "127.0.0.1:${http}", keep_alive: false, ${yaml}}\nudp: {addr: ""}\n`);
        let out2 = '';
        const spawned = await startTracker(cfg.path, { onOutput: (t) => { out2 += t; }, cwd: dirname(cfg.path), env });
        try {
          if (yaml === 'transport: net') {
            assert.match(out2, /"level":30,[^\n]*"transport":"net","reason":"http.transport: net"/, 'configured: information');
            continue;
          }
          assert.match(out2, /"level":30,[^\n]*"transport":"raw"/);
          assert.match(out2, /"level":40,[^\n]*"journal_io":"write","reason":"the native mmap addon is not loadable \(PRIVTRAK_NO_NATIVE=1\)"/);
          const began = Date.now();
          const reply = await new Promise<Buffer>((resolve, reject) => {
            const chunks: Buffer[] = [];
            const s = connect({ port: http, host: '127.0.0.1', allowHalfOpen: true }, () => s.write(`GET /${'0123456789abcdef'.repeat(2)}/announce?${q}&event=started HTTP/1.1\r\n\r\n`));
            s.on('data', (c: Buffer) => chunks.push(c));
            s.on('end', () => { s.destroy(); resolve(Buffer.concat(chunks)); });
            s.on('error', reject);
          });
          assert.match(reply.toString('latin1'), /^HTTP\/1\.1 200 /);
          assert.ok(Date.now() - began < 1000, 'the end of the stream came with the reply');
        } finally {
          spawned.kill('SIGKILL');
          await waitExit(spawned);
        }
      }
    } finally {
      cfg.cleanup();
    }
  });

  it('the log sink writes to a file of its own and keeps its mark: a restart writes nothing twice and reports nothing missing', async () => {
    const http = await freePort();
    const cfg = withConfig(`metrics_addr: ""\nhttp: {addr: "127.0.0.1:${http}"}\nudp: {addr: ""}\nprehooks: [{name: privtrak, options: {sink: {name: log}}}]\n`);
    const cwd = dirname(cfg.path);
    const q = (up: number, event = '') => `/0123456789abcdef0123456789abcdef/announce?info_hash=${escapeBytes(Buffer.alloc(20, 9))}&peer_id=${escapeBytes(Buffer.alloc(20, 8))}&port=1234&uploaded=${up}&downloaded=0&left=0${event}`;
    try {
      for (const [run, ups] of [[1, [0, 100]], [2, [250]]] as const) {
        let out = '';
        const child = await startTracker(cfg.path, { onOutput: (t) => { out += t; }, cwd });
        for (const up of ups) assert.equal((await get(http, q(up, up === 0 ? '&event=started' : ''))).status, 200);
        child.kill('SIGTERM');
        assert.equal(await waitExit(child), 0, out);
        assert.doesNotMatch(out, /"seq":/, `run ${run}: no delta on the tracker's own output`);
        assert.doesNotMatch(out, /records are missing/, `run ${run}: ${out}`);
      }
      const lines = readFileSync(join(cwd, 'data', 'privtrak-deltas.ndjson'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { seq: number; delta_up: number });
      assert.deepEqual(lines.map((l) => l.seq), [1, 2, 3], 'each delta once, across the restart');
      assert.deepEqual(lines.map((l) => l.delta_up), [0, 100, 150]);
    } finally {
      cfg.cleanup();
    }
  });

  it('migrate creates the default SQLite sink\'s file and schema, and is idempotent', () => {
    const cfg = withConfig('metrics_addr: ""\n');
    try {
      for (let i = 0; i < 2; i++) {
        const r = spawnSync(process.execPath, [MAIN, 'migrate', '--config', cfg.path], { encoding: 'utf8', timeout: 10_000, cwd: dirname(cfg.path) });
        assert.equal(r.status, 0, r.stderr);
      }
      assert.ok(existsSync(join(dirname(cfg.path), 'data', 'privtrak.sqlite')));
    } finally {
      cfg.cleanup();
    }
  });

  it('refuses a config with an unknown key, naming it, with exit status 2', () => {
    const cfg = withConfig('http:\n  adr: "127.0.0.1:0"\n');
    try {
      const r = spawnSync(process.execPath, [MAIN, 'serve', '--config', cfg.path], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /config: http\.adr: unknown key/);
    } finally {
      cfg.cleanup();
    }
  });

  it('refuses a bad duration, naming the key', () => {
    const cfg = withConfig('announce_interval: soon\n');
    try {
      const r = spawnSync(process.execPath, [MAIN, 'check-config', '--config', cfg.path], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /config: announce_interval: "soon" is not a duration/);
    } finally {
      cfg.cleanup();
    }
  });

  it('accepts config.example.yaml and it documents exactly the embedded defaults', () => {
    const example = spawnSync(process.execPath, [MAIN, 'check-config', '--config', join(ROOT, 'config.example.yaml')], { encoding: 'utf8' });
    assert.equal(example.status, 0, example.stderr);
    const defaults = spawnSync(process.execPath, [MAIN, 'check-config'], { encoding: 'utf8' });
    assert.equal(defaults.status, 0, defaults.stderr);
    const ex = JSON.parse(example.stdout) as { prehooks: Array<{ name: string; options: unknown }> };
    const df = JSON.parse(defaults.stdout) as { prehooks: Array<{ name: string; options: unknown }> };
    assert.deepEqual({ ...ex, prehooks: ex.prehooks.map((h) => h.name) }, { ...df, prehooks: df.prehooks.map((h) => h.name) });
    // Every privtrak option the example spells out is the default value.
    assert.deepEqual(privtrakOptionsSchema.parse(ex.prehooks[0]!.options), privtrakOptionsSchema.parse(df.prehooks[0]!.options));
  });

  it('refuses a bad hook option at check-config, naming the key', () => {
    const cfg = withConfig('prehooks:\n  - name: privtrak\n    options: {batch_size: 0}\n');
    try {
      const r = spawnSync(process.execPath, [MAIN, 'check-config', '--config', cfg.path], { encoding: 'utf8' });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /config: prehooks\.0\.options\.batch_size: /);
    } finally {
      cfg.cleanup();
    }
  });

  it('prints usage for an unknown command with exit status 2', () => {
    const r = spawnSync(process.execPath, [MAIN, 'frobnicate'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});
