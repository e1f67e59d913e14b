/** The top-level `site:` block (src/sites/config.ts): its defaults and the rules tying it to the rest of the config. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { Tracker } from '../../src/tracker.js';
import { refuses } from '../support/config-assert.js';

const URL = 'mysql://tracker:pw@127.0.0.1:3306/site';
const KEY = 'k'.repeat(32);
const unit3d = { name: 'unit3d', url: URL, api_key: KEY };
const gazelle = { name: 'gazelle', url: URL, secret: 's'.repeat(32) };

describe('site: block', () => {
  it('unit3d: announces on /announce/:passkey as UNIT3D-Announce does, no scrape, UNIT3D-Announce\'s defaults', () => {
    const c = validateConfig({ site: unit3d });
    assert.deepEqual(c.http.announce_routes, ['/announce/:passkey']);
    assert.deepEqual(c.http.scrape_routes, []);
    assert.equal(c.site?.name, 'unit3d');
    if (c.site?.name !== 'unit3d') return;
    assert.equal(c.site.upload_factor, 100);
    assert.equal(c.site.download_factor, 100);
    assert.equal(c.site.max_peers_per_torrent_per_user, 3);
    assert.equal(c.site.readonly, false);
    assert.equal(c.site.inactive_peer_ttl, 2 * 24 * 3600 * 1000);
  });

  it('gazelle: Ocelot\'s /:passkey/announce and /:passkey/scrape, OPS tables by default', () => {
    const c = validateConfig({ site: gazelle });
    assert.deepEqual(c.http.announce_routes, ['/:passkey/announce']);
    assert.deepEqual(c.http.scrape_routes, ['/:passkey/scrape']);
    assert.equal(c.site?.name === 'gazelle' && c.site.schema, 'ops');
  });

  it('routes the operator names are kept', () => {
    const c = validateConfig({ site: unit3d, http: { announce_routes: ['/t/:passkey/announce'] } });
    assert.deepEqual(c.http.announce_routes, ['/t/:passkey/announce']);
    assert.deepEqual(c.http.scrape_routes, []);
  });

  it('refuses what would not work, naming the key', () => {
    refuses({ site: { name: 'xbt', url: URL } }, 'site.name', /unit3d.*gazelle|Invalid discriminator/);
    refuses({ site: { ...unit3d, api_key: 'short' } }, 'site.api_key', /at least 16/);
    refuses({ site: { ...gazelle, secret: 'short' } }, 'site.secret', /at least 16/);
    refuses({ site: { ...unit3d, url: 'postgres://x/y' } }, 'site.url', /mysql:\/\/ or mariadb:\/\//);
    refuses({ site: { ...unit3d, download_factor: 150 } }, 'site.download_factor', /100/);
    refuses({ site: { ...unit3d, secret: 'x'.repeat(20) } }, 'site.secret', /unknown key/);
    refuses({ site: unit3d, registry: { source: 'file' } }, 'registry', /reads users and torrents from the site's database/);
    refuses({ site: unit3d, prehooks: [] }, 'prehooks', /counts through the privtrak hook/);
  });

  it('a dry run (readonly) may go without the privtrak hook', () => {
    assert.doesNotThrow(() => validateConfig({ site: { ...unit3d, readonly: true }, prehooks: [] }));
  });

  it('the privtrak hook writes through the site: a sink of its own is refused unless the site is read-only', () => {
    const logger = pino({ level: 'silent' });
    const withSink = (site: object) => validateConfig({
      site, metrics_addr: '', http: { addr: '' }, udp: { addr: '' },
      prehooks: [{ name: 'privtrak', options: { sink: { name: 'sqlite', path: '/nonexistent/x.sqlite' } } }],
    });
    assert.throws(() => new Tracker(withSink(unit3d), logger), (e: ConfigError) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.key, 'prehooks.0.options.sink');
      assert.match(e.message, /site block writes the site's own tables/);
      return true;
    });
    assert.doesNotThrow(() => new Tracker(withSink({ ...gazelle, readonly: true }), logger));
  });
});
