/** The `site: gazelle` block: validated by the config schema, with Ocelot's routes filled in. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig } from '../../../src/config/load.js';
import { refuses } from '../../support/config-assert.js';

const URL = 'mysql://gazelle:pw@127.0.0.1:3306/gazelle';
const PRIVTRAK = [{ name: 'privtrak', options: { journal_dir: './data/journal' } }];

describe('site: gazelle config', () => {
  it('validates, with production-safe defaults and the routes Gazelle\'s torrents carry', () => {
    const c = validateConfig({ site: { name: 'gazelle', url: URL, secret: 's'.repeat(32) }, prehooks: PRIVTRAK });
    assert.equal(c.site?.name, 'gazelle');
    if (c.site?.name !== 'gazelle') return;
    assert.equal(c.site.readonly, false);
    assert.equal(c.site.schema, 'ops');
    assert.equal(c.site.report_password, '');
    assert.deepEqual(c.http.announce_routes, ['/:passkey/announce']);
    assert.deepEqual(c.http.scrape_routes, ['/:passkey/scrape']);
  });

  it('takes WhatCD\'s tables and a report password', () => {
    const c = validateConfig({ site: { name: 'gazelle', url: URL, secret: 's'.repeat(32), schema: 'whatcd', report_password: 'r'.repeat(16) }, prehooks: PRIVTRAK });
    assert.equal(c.site?.name === 'gazelle' ? c.site.schema : undefined, 'whatcd');
  });

  it('refuses a short secret, naming site.secret', () => {
    refuses({ site: { name: 'gazelle', url: URL, secret: 'short' }, prehooks: PRIVTRAK }, 'site.secret', /at least 16 characters/);
  });

  it('refuses a short report password, naming site.report_password', () => {
    refuses({ site: { name: 'gazelle', url: URL, secret: 's'.repeat(32), report_password: 'short' }, prehooks: PRIVTRAK }, 'site.report_password', /at least 16/);
  });
});
