/** examples/unit3d.yaml and examples/gazelle.yaml work as they are once the environment holds the database URL and the site's key. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { ROOT } from '../support/tracker-process.js';

const DB = 'mysql://site:pw@127.0.0.1:3306/site';

describe('site examples', () => {
  it('unit3d.yaml: DATABASE_URL and SITE_API_KEY from the environment', () => {
    const c = loadConfigFile(join(ROOT, 'examples/unit3d.yaml'), { DATABASE_URL: DB, SITE_API_KEY: 'a'.repeat(40) });
    assert.equal(c.site?.name, 'unit3d');
    assert.equal(c.site?.url, DB);
    assert.equal(c.site?.name === 'unit3d' && c.site.api_key, 'a'.repeat(40));
    assert.deepEqual(c.http.announce_routes, ['/announce/:passkey']);
    assert.equal(c.prehooks[0]?.name, 'privtrak');
    assert.equal(c.prehooks[0]?.options['sink'], undefined);
  });

  it('gazelle.yaml: DATABASE_URL and SITE_SECRET, the report key optional', () => {
    const c = loadConfigFile(join(ROOT, 'examples/gazelle.yaml'), { DATABASE_URL: DB, SITE_SECRET: 's'.repeat(32) });
    assert.equal(c.site?.name, 'gazelle');
    assert.equal(c.site?.name === 'gazelle' && c.site.report_password, '');
    assert.deepEqual(c.http.announce_routes, ['/:passkey/announce']);
  });

  it('an unset variable is a config error naming the key and the variable', () => {
    assert.throws(() => loadConfigFile(join(ROOT, 'examples/unit3d.yaml'), { DATABASE_URL: DB }), (e: ConfigError) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.key, 'site.api_key');
      assert.match(e.message, /SITE_API_KEY/);
      return true;
    });
    assert.throws(() => loadConfigFile(join(ROOT, 'examples/gazelle.yaml'), { SITE_SECRET: 's'.repeat(32) }), /site\.url.*DATABASE_URL|DATABASE_URL/);
  });
});
