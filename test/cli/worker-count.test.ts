/** `--workers N | auto` parsing and the configurations refused with more than one worker. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { defaultConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { checkWorkersConfig, parseWorkers } from '../../src/cli/workers/worker-count.js';

/** The default config on a store other than memory (what the Redis store's schema will accept). */
function sharedStoreConfig(over: Partial<Config> = {}): Config {
  const c = defaultConfig();
  // (cast: this branch's schema may not know the name yet; only the name is read)
  return { ...c, storage: { ...c.storage, name: 'redis' } as unknown as Config['storage'], ...over };
}

describe('--workers', () => {
  it('parses a count, "auto" (the cores Node may use), and defaults to 1', () => {
    assert.equal(parseWorkers(undefined), 1);
    assert.equal(parseWorkers('1'), 1);
    assert.equal(parseWorkers('12'), 12);
    assert.equal(parseWorkers('auto'), availableParallelism());
    for (const bad of ['0', '', ' 2', '2x', '1e3', '-1', '1025', 'AUTO']) assert.throws(() => parseWorkers(bad), UsageError, bad);
  });

  it('refuses more than one worker with memory storage, the admin API or a site profile, saying why', () => {
    assert.doesNotThrow(() => checkWorkersConfig(defaultConfig(), 1));
    assert.throws(() => checkWorkersConfig(defaultConfig(), 3), /--workers 3 needs the shared store \(storage: \{name: redis\}\)/);
    assert.doesNotThrow(() => checkWorkersConfig(sharedStoreConfig(), 3));
    const registry = { source: 'file', users: 'u.csv', torrents: 't.csv', poll_interval: 2000, admin_token: 'x'.repeat(16) } as unknown as Config['registry'];
    assert.throws(() => checkWorkersConfig(sharedStoreConfig({ registry }), 2), /admin API \(registry\.admin_token\)/);
    assert.doesNotThrow(() => checkWorkersConfig(sharedStoreConfig({ registry: { ...registry!, admin_token: '' } }), 2));
    const site = { name: 'unit3d' } as unknown as Config['site'];
    assert.throws(() => checkWorkersConfig(sharedStoreConfig({ site }), 2), /site profile \(site: unit3d\)/);
  });
});
