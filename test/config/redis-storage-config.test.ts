import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { refuses } from '../support/config-assert.js';

describe('config: storage.name redis', () => {
  it('takes a redis URL with the defaults of the design', () => {
    const c = validateConfig({ storage: { name: 'redis', config: { url: 'redis://127.0.0.1:6379/0' } } });
    assert.equal(c.storage.name, 'redis');
    if (c.storage.name !== 'redis') return;
    assert.deepEqual({ ...c.storage.config }, {
      gc_interval: 180_000, peer_lifetime: 31 * 60_000, prometheus_reporting_interval: 1000,
      url: 'redis://127.0.0.1:6379/0', cluster_nodes: [], key_prefix: 'privtrak:', groups: 16, command_timeout: 2000, max_stream_entries: 200_000,
    });
  });

  it('takes cluster seeds instead of a URL', () => {
    const c = validateConfig({ storage: { name: 'redis', config: { cluster_nodes: ['127.0.0.1:7000', '[::1]:7001'], command_timeout: '500ms' } } });
    assert.ok(c.storage.name === 'redis' && c.storage.config.cluster_nodes.length === 2 && c.storage.config.command_timeout === 500);
  });

  it('keeps memory the default, with no redis keys', () => {
    const c = validateConfig({ storage: { config: { peer_lifetime: '10m' } } });
    assert.equal(c.storage.name, 'memory');
    assert.equal(c.storage.config.peer_lifetime, 600_000);
  });

  it('refuses a redis store without url or cluster_nodes, or with both', () => {
    refuses({ storage: { name: 'redis' } }, 'storage.config.url', /required with storage.name: redis/);
    refuses({ storage: { name: 'redis', config: { url: 'redis://h:1/0', cluster_nodes: ['h:2'] } } }, 'storage.config.cluster_nodes', /either url/);
  });

  it('refuses bad redis values, naming the key', () => {
    const base = { url: 'redis://h:1/0' };
    refuses({ storage: { name: 'redis', config: { url: 'http://h:1' } } }, 'storage.config.url', /redis:\/\//);
    refuses({ storage: { name: 'redis', config: { ...base, groups: 0 } } }, 'storage.config.groups', /greater than or equal to 1/);
    refuses({ storage: { name: 'redis', config: { ...base, key_prefix: 'a{b}' } } }, 'storage.config.key_prefix', /hash tags/);
    refuses({ storage: { name: 'redis', config: { ...base, cluster_nodes: ['nope'] } } }, 'storage.config.cluster_nodes.0', /host:port/);
    refuses({ storage: { name: 'redis', config: { ...base, max_stream_entries: 0 } } }, 'storage.config.max_stream_entries', /greater than or equal to 1/);
    refuses({ storage: { name: 'redis', config: { ...base, urll: 'x' } } }, 'storage.config.urll', /unknown key/);
  });

  it('refuses redis keys with the memory store, naming the key', () => {
    for (const [key, value] of [['url', 'redis://h:1/0'], ['cluster_nodes', []], ['key_prefix', 'x:'], ['groups', 4], ['command_timeout', '1s'], ['max_stream_entries', 10]] as const) {
      refuses({ storage: { name: 'memory', config: { [key]: value } } }, `storage.config.${key}`, /needs storage.name: redis/);
      refuses({ storage: { config: { [key]: value } } }, `storage.config.${key}`, /needs storage.name: redis/);
    }
  });

  it('refuses an unknown store name', () => {
    refuses({ storage: { name: 'etcd' } }, 'storage.name', /memory.*redis/);
  });
});
