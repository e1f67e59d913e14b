/** The `site: {name: unit3d}` block (src/sites/config.ts): defaults, the routes UNIT3D's torrents carry, and refusals naming the key. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/load.js';
import { refuses } from '../../support/config-assert.js';

const site = { name: 'unit3d', url: 'mysql://tracker:pw@db.internal:3306/unit3d', api_key: 'k'.repeat(32) };
const prehooks = [{ name: 'privtrak' }];

describe('config: site unit3d', () => {
  it('validates with production defaults (UNIT3D-Announce\'s .env defaults)', () => {
    const c = validateConfig({ site, prehooks });
    assert.ok(c.site !== undefined && c.site.name === 'unit3d');
    if (c.site.name !== 'unit3d') return;
    assert.equal(c.site.readonly, false);
    assert.equal(c.site.upload_factor, 100);
    assert.equal(c.site.download_factor, 100);
    assert.equal(c.site.max_peers_per_torrent_per_user, 3);
    assert.equal(c.site.donor_immunity_override, null);
    assert.equal(c.site.timeout, 30_000);
  });

  it('announces default to /announce/:passkey with no scrape route, as UNIT3D\'s torrents carry', () => {
    const c = validateConfig({ site, prehooks });
    assert.deepEqual(c.http.announce_routes, ['/announce/:passkey']);
    assert.deepEqual(c.http.scrape_routes, []);
    // Routes named in http: stay as written.
    const own = validateConfig({ site, prehooks, http: { announce_routes: ['/:passkey/announce'] } });
    assert.deepEqual(own.http.announce_routes, ['/:passkey/announce']);
  });

  it('a bad value names its key', () => {
    refuses({ site: { ...site, api_key: 'short' }, prehooks }, 'site.api_key', /at least 16 characters/);
    refuses({ site: { ...site, api_key: undefined }, prehooks }, 'site.api_key', /./);
    refuses({ site: { ...site, url: 'postgres://x/y' }, prehooks }, 'site.url', /mysql:\/\//);
    refuses({ site: { ...site, download_factor: 150 }, prehooks }, 'site.download_factor', /./);
    refuses({ site: { ...site, max_peers_per_torrent_per_user: 0 }, prehooks }, 'site.max_peers_per_torrent_per_user', /./);
  });

  it('writing to the site needs the privtrak hook; a read-only dry run does not', () => {
    refuses({ site, prehooks: [] }, 'prehooks', /keep \{name: privtrak\}/);
    assert.equal(validateConfig({ site: { ...site, readonly: true }, prehooks: [] }).site?.readonly, true);
  });
});
