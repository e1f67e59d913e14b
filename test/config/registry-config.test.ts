/** The `registry:` block: defaults, default queries over privtrak's tables, and refusals naming the key. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { refuses } from '../support/config-assert.js';
import { Tracker } from '../../src/tracker.js';


describe('registry config', () => {
  it('is absent by default', () => {
    assert.equal(validateConfig({}).registry, undefined);
  });

  it('file: defaults', () => {
    assert.deepEqual(validateConfig({ registry: { source: 'file', users: 'u.csv' } }).registry,
      { source: 'file', users: 'u.csv', torrents: '', poll_interval: 2000, admin_token: '' });
  });

  it('postgres and mysql: default queries read privtrak\'s own tables, incremental by updated_at', () => {
    const c = validateConfig({ registry: { source: 'postgres', url: 'postgres://u@h/db', users_table: 'site.pt_users' } }).registry!;
    if (c.source !== 'postgres') return assert.fail(c.source);
    assert.equal(c.refresh_interval, 30_000);
    assert.equal(c.full_reload_interval, 900_000);
    assert.equal(c.default_queries, true);
    assert.match(c.users_query, /FROM site\.pt_users WHERE NOT deleted/);
    assert.match(c.users_changed_query, /FROM site\.pt_users WHERE updated_at >= :since/);
    assert.match(c.torrents_query, /FROM privtrak_torrents/);
    const m = validateConfig({ registry: { source: 'mysql', url: 'mysql://root@127.0.0.1/site', users_query: 'SELECT torrent_pass AS passkey FROM users_main', users_changed_query: '' } }).registry!;
    if (m.source === 'file') return;
    assert.equal(m.default_queries, false);
    assert.equal(m.users_changed_query, '', 'full reload at every refresh');
    assert.match(m.torrents_changed_query, /FROM privtrak_torrents WHERE updated_at >= :since/);
    const own = validateConfig({ registry: { source: 'mysql', url: 'mysql://x', torrents_query: 'SELECT info_hash FROM torrents' } }).registry!;
    if (own.source === 'file') return;
    assert.equal(own.torrents_changed_query, '', 'a custom full query without a changed query: full reloads, never privtrak\'s table');
  });

  it('refuses bad blocks, naming the key', () => {
    refuses({ registry: {} }, 'registry.source', /Invalid discriminator/);
    refuses({ registry: { source: 'redis' } }, 'registry.source', /Invalid discriminator/);
    refuses({ registry: { source: 'file', user: 'x.csv' } }, 'registry.user', /unknown key/);
    refuses({ registry: { source: 'file', poll_interval: 'often' } }, 'registry.poll_interval', /not a duration/);
    refuses({ registry: { source: 'postgres' } }, 'registry.url', /Required/);
    refuses({ registry: { source: 'postgres', url: 'mysql://x' } }, 'registry.url', /postgres:\/\//);
    refuses({ registry: { source: 'mysql', url: 'mysql://x', users_table: 'users; DROP TABLE x' } }, 'registry.users_table', /table name/);
    refuses({ registry: { source: 'mysql', url: 'mysql://x', users_changed_query: 'SELECT * FROM u' } }, 'registry.users_changed_query', /must use :since/);
    refuses({ registry: { source: 'mysql', url: 'mysql://x', torrents_query: 'SELECT * FROM t WHERE x > :since' } }, 'registry.torrents_query', /no :since/);
    refuses({ registry: { source: 'postgres', url: 'postgres://x', refresh: '1m' } }, 'registry.refresh', /unknown key/);
    refuses({ registry: { source: 'postgres', url: 'postgres://x', users_changed_query: 'SELECT passkey FROM u WHERE t >= :since' } }, 'registry.users_query', /required when users_changed_query is set/);
  });

  it('hooks that need the registry refuse to build without it, naming the hook entry', () => {
    const config = validateConfig({ prehooks: [{ name: 'client_approval' }, { name: 'torrent_approval' }] });
    assert.throws(() => new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false }),
      (e: ConfigError) => e.key === 'prehooks.1.name' && /torrent_approval hook needs a top-level "registry:" block/.test(e.message));
  });
});
