import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HookChain } from '../../src/middleware/chain.js';
import { createContext } from '../../src/middleware/context.js';
import { ClientError } from '../../src/bittorrent/errors.js';
import { makePeer } from '../../src/bittorrent/ip.js';
import type { Hook } from '../../src/middleware/hook.js';
import type { AnnounceRequest } from '../../src/bittorrent/types.js';
import { buildHook } from '../../src/middleware/hook-factories.js';
import { createVarIntervalHook } from '../../src/middleware/varinterval/varinterval-hook.js';
import { ConfigError } from '../../src/config/errors.js';
import { NO_PEERS } from '../../src/bittorrent/peer-list.js';

const req: AnnounceRequest = {
  infoHash: Buffer.alloc(20), peer: makePeer(Buffer.alloc(20, 0x41), '127.0.0.1', 1), event: 'none',
  uploaded: 0, downloaded: 0, left: 0, numWant: 5, compact: true, noPeerId: false, transport: 'http',
};

function hook(name: string, log: string[], behaviour: Partial<Hook> = {}): Hook {
  return { name, handleAnnounce: () => { log.push(name); }, handleScrape: () => { log.push(`${name}:scrape`); }, ...behaviour };
}

const opts = { announceInterval: 60, minAnnounceInterval: 30 };

describe('hook chain', () => {
  it('runs pre-hooks in order and returns the response synchronously when every hook is sync', () => {
    const log: string[] = [];
    const chain = new HookChain([hook('a', log), hook('b', log)], [hook('post', log)], opts);
    const resp = chain.announce(createContext({}, {}), req);
    assert.ok(!(resp instanceof Promise));
    assert.deepEqual(log, ['a', 'b']);
    assert.equal((resp as { interval: number }).interval, 60);
    chain.afterAnnounce(createContext({}, {}), req, resp as never);
    assert.deepEqual(log, ['a', 'b', 'post']);
  });

  it('switches to async at the first hook that returns a Promise and keeps the order', async () => {
    const log: string[] = [];
    const slow = hook('slow', log, { handleAnnounce: () => new Promise<void>((r) => setTimeout(() => { log.push('slow'); r(); }, 10)) });
    const chain = new HookChain([hook('a', log), slow, hook('c', log)], [], opts);
    const resp = chain.announce(createContext({}, {}), req);
    assert.ok(resp instanceof Promise);
    assert.deepEqual(log, ['a']);
    await resp;
    assert.deepEqual(log, ['a', 'slow', 'c']);
  });

  it('lets a later hook read what an earlier one put in the context', () => {
    const setter: Hook = { name: 's', handleAnnounce: (ctx) => { ctx.userId = Buffer.from('u'); ctx.siteTorrentId = 42; }, handleScrape() {} };
    let read: unknown;
    const getter: Hook = { name: 'g', handleAnnounce: (ctx) => { read = [ctx.userId?.toString(), ctx.siteTorrentId]; }, handleScrape() {} };
    new HookChain([setter, getter], [], opts).announce(createContext({}, {}), req);
    assert.deepEqual(read, ['u', 42]);
  });

  it('propagates a refusal, thrown or rejected, and stops the chain there', async () => {
    const log: string[] = [];
    const refuse: Hook = { name: 'r', handleAnnounce: () => { throw new ClientError('FORBIDDEN', 'no'); }, handleScrape() {} };
    assert.throws(() => new HookChain([refuse, hook('after', log)], [], opts).announce(createContext({}, {}), req), /no/);
    const reject: Hook = { name: 'r', handleAnnounce: () => Promise.reject(new ClientError('FORBIDDEN', 'later')), handleScrape() {} };
    await assert.rejects(Promise.resolve(new HookChain([reject, hook('after', log)], [], opts).announce(createContext({}, {}), req)), /later/);
    assert.deepEqual(log, []);
  });

  it('runs scrape handlers', async () => {
    const log: string[] = [];
    const chain = new HookChain([hook('a', log)], [hook('p', log)], opts);
    const resp = chain.scrape(createContext({}, {}), { infoHashes: [], family: 4, transport: 'udp' });
    chain.afterScrape(createContext({}, {}), { infoHashes: [], family: 4, transport: 'udp' }, resp as never);
    assert.deepEqual(log, ['a:scrape', 'p:scrape']);
  });

  it('stops the hooks already started when a later start fails, and stops in reverse order collecting errors', async () => {
    const log: string[] = [];
    const h = (name: string, failStart = false, failStop = false): Hook => ({
      name, handleAnnounce() {}, handleScrape() {},
      async start() { if (failStart) throw new Error(`${name} start`); log.push(`start ${name}`); },
      async stop() { log.push(`stop ${name}`); if (failStop) throw new Error(`${name} stop`); },
    });
    await assert.rejects(new HookChain([h('a'), h('b', true)], [], opts).start(), /b start/);
    assert.deepEqual(log, ['start a', 'stop a']);
    log.length = 0;
    const chain = new HookChain([h('a', false, true), h('b')], [h('c', false, true)], opts);
    await chain.start();
    const errors = await chain.stop();
    assert.deepEqual(log, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
    assert.deepEqual(errors.map((e) => e.message), ['c stop', 'a stop']);
  });
});

describe('hook registry and varinterval', () => {
  const deps = {} as never;
  it('refuses an unknown hook name, naming the key', () => {
    assert.throws(() => buildHook('nope', {}, deps, 'prehooks.0'), (e: ConfigError) => e.key === 'prehooks.0.name' && /unknown hook "nope"/.test(e.message));
  });

  it('refuses bad options, naming the key', () => {
    assert.throws(() => buildHook('varinterval', { max_increase_delta: 0 }, deps, 'prehooks.0'), (e: ConfigError) => e.key === 'prehooks.0.options.max_increase_delta');
    assert.throws(() => buildHook('varinterval', { typo: 1 }, deps, 'posthooks.2'), (e: ConfigError) => e.key === 'posthooks.2.options.typo');
  });

  it('adds 1..max_increase_delta seconds to a share of responses', () => {
    const values = [0.1, 0.5];
    const h = createVarIntervalHook({ modify_response_probability: 0.2, max_increase_delta: 60 }, deps, 'p', () => values.shift() ?? 0.9);
    const resp = { interval: 100, minInterval: 50, complete: 0, incomplete: 0, ipv4Peers: NO_PEERS, ipv6Peers: NO_PEERS };
    h.handleAnnounce(createContext({}, {}), req, resp);
    assert.deepEqual([resp.interval, resp.minInterval], [131, 81]);
    h.handleAnnounce(createContext({}, {}), req, resp);
    assert.deepEqual([resp.interval, resp.minInterval], [131, 81], 'random 0.9 ≥ probability: unchanged');
  });
});
