import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, loadConfigFile, validateConfig } from '../../src/config/load.js';
import { refuses } from '../support/config-assert.js';
import { parseDuration, formatDuration } from '../../src/config/duration.js';


describe('config', () => {
  it('has production-safe embedded defaults', () => {
    const c = defaultConfig();
    assert.equal(c.announce_interval, 1_800_000);
    assert.equal(c.min_announce_interval, 900_000);
    assert.equal(c.metrics_addr, '127.0.0.1:6880');
    assert.equal(c.http.addr, '[::]:6969', 'dual-stack');
    assert.equal(c.udp.addr, '[::]:6969', 'dual-stack');
    assert.equal(c.http.max_connections_per_ip, 0);
    assert.equal(c.http.max_buffered_bytes, 65536);
    assert.equal(c.http.keep_alive, true);
    assert.equal(c.http.transport, 'auto');
    assert.equal(c.http.allow_ip_spoofing, false);
    assert.equal(c.udp.allow_ip_spoofing, false);
    assert.equal(c.http.real_ip_header, '');
    assert.equal(c.http.default_numwant, 50);
    assert.equal(c.http.max_scrape_infohashes, 50);
    assert.deepEqual(c.http.announce_routes, ['/:passkey/announce']);
    assert.deepEqual(c.http.scrape_routes, ['/:passkey/scrape']);
    assert.deepEqual(c.prehooks, [{ name: 'privtrak', options: {} }], 'the private chain');
    assert.equal(c.storage.config.peer_lifetime, 31 * 60_000);
  });

  it('refuses unknown keys at any depth, naming them', () => {
    refuses({ annouce_interval: '1m' }, 'annouce_interval', /unknown key/);
    refuses({ http: { adr: ':1' } }, 'http.adr', /unknown key/);
    refuses({ storage: { config: { gc: '1m' } } }, 'storage.config.gc', /unknown key/);
    refuses({ prehooks: [{ name: 'x', opts: {} }] }, 'prehooks.0.opts', /unknown key/);
  });

  it('refuses bad values, naming the key and why', () => {
    refuses({ announce_interval: '5 minutes' }, 'announce_interval', /not a duration/);
    refuses({ http: { addr: 'localhost' } }, 'http.addr', /host:port/);
    refuses({ http: { addr: '127.0.0.1:70000' } }, 'http.addr', /host:port/);
    refuses({ http: { max_numwant: -1 } }, 'http.max_numwant', /greater than or equal to 0/);
    refuses({ http: { default_numwant: 80, max_numwant: 60 } }, 'http.default_numwant', /must not exceed max_numwant/);
    refuses({ min_announce_interval: '2h' }, 'min_announce_interval', /must not exceed announce_interval/);
    refuses({ log_level: 'loud' }, 'log_level', /Invalid enum value/);
    refuses({ http: { announce_routes: ['announce'] } }, 'http.announce_routes.0', /starting with "\/"/);
    refuses({ storage: { name: 'cassandra' } }, 'storage.name', /Invalid enum value/);
    refuses({ http: { transport: 'uring' } }, 'http.transport', /Invalid enum value/);
  });

  it('accepts listen addresses in every documented form', () => {
    assert.equal(validateConfig({ http: { addr: '[::]:6969' } }).http.addr, '[::]:6969');
    assert.equal(validateConfig({ http: { addr: ':6969' } }).http.addr, ':6969');
    assert.equal(validateConfig({ udp: { addr: '' } }).udp.addr, '');
  });

  it('loads YAML files and reports unreadable or invalid ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-config-'));
    try {
      const good = join(dir, 'good.yaml');
      writeFileSync(good, 'announce_interval: 1h30m\nhttp:\n  keep_alive: true\n');
      const c = loadConfigFile(good);
      assert.equal(c.announce_interval, 5_400_000);
      assert.equal(c.http.keep_alive, true);
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'http: [unclosed\n');
      assert.throws(() => loadConfigFile(bad), /not valid YAML/);
      assert.throws(() => loadConfigFile(join(dir, 'missing.yaml')), /cannot read/);
      const empty = join(dir, 'empty.yaml');
      writeFileSync(empty, '');
      assert.deepEqual(loadConfigFile(empty), defaultConfig());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('durations', () => {
  const cases: Array<[string | number, number | undefined]> = [
    ['30m', 1_800_000], ['1h30m', 5_400_000], ['500ms', 500], ['10s', 10_000], ['7d', 604_800_000], [90, 90_000], ['90', 90_000],
    ['1.5s', 1500], ['', undefined], ['5 minutes', undefined], ['m', undefined], ['10x', undefined], [-1, undefined],
  ];
  for (const [input, ms] of cases) {
    it(`parses ${JSON.stringify(input)}`, () => assert.equal(parseDuration(input), ms));
  }
  it('formats back', () => {
    assert.deepEqual([formatDuration(1_800_000), formatDuration(86_400_000), formatDuration(1500)], ['30m', '1d', '1500ms']);
  });
});
