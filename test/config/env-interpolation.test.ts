/** `${NAME}` in config values (src/config/env-interpolation.ts) and masking secrets for display. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interpolateEnv } from '../../src/config/env-interpolation.js';
import { loadConfigFile } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { maskSecrets } from '../../src/config/mask-secrets.js';

const env = { DATABASE_URL: 'mysql://tracker:s3cr3t@db.internal:3306/unit3d', EMPTY: '', ODD: 'a: b\n- [c]' };

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('expected a ConfigError');
}

describe('${NAME} in config values', () => {
  it('replaces references in nested values and arrays, strings only', () => {
    const raw = { prehooks: [{ name: 'privtrak', options: { sink: { name: 'mysql', url: '${DATABASE_URL}' } } }], n: 5, flag: true, routes: ['/${EMPTY}x'] };
    assert.deepEqual(interpolateEnv(raw, env), {
      prehooks: [{ name: 'privtrak', options: { sink: { name: 'mysql', url: env.DATABASE_URL } } }], n: 5, flag: true, routes: ['/x'],
    });
  });

  it('takes a fallback when unset or empty, and $${ is a literal ${', () => {
    assert.equal(interpolateEnv('${NOPE:-./data/x}', env), './data/x');
    assert.equal(interpolateEnv('${EMPTY:-fallback}', env), 'fallback');
    assert.equal(interpolateEnv('${DATABASE_URL:-unused}', env), env.DATABASE_URL);
    assert.equal(interpolateEnv('cost $${NOT_A_REF} ${EMPTY}', env), 'cost ${NOT_A_REF} ');
  });

  it('keeps a value with YAML syntax in it a plain string (no structure from the environment)', () => {
    assert.deepEqual(interpolateEnv({ k: '${ODD}' }, env), { k: 'a: b\n- [c]' });
  });

  it('refuses an unset variable, naming the key and the variable', () => {
    const err = refusal(() => interpolateEnv({ registry: { admin_token: '${SITE_API_KEY}' } }, env));
    assert.equal(err.key, 'registry.admin_token');
    assert.match(err.message, /environment variable SITE_API_KEY is not set/);
    assert.equal(refusal(() => interpolateEnv({ a: [{ b: 'x${UNSET}' }] }, env)).key, 'a.0.b');
  });

  it('refuses a reference that is not a name', () => {
    assert.match(refusal(() => interpolateEnv({ k: '${1BAD}' }, env)).message, /not an environment reference/);
    assert.match(refusal(() => interpolateEnv({ k: '${}' }, env)).message, /not an environment reference/);
  });

  it('applies when a config file is loaded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-env-'));
    try {
      const file = join(dir, 'config.yaml');
      writeFileSync(file, [
        'registry: {source: mysql, url: "${DATABASE_URL}", admin_token: "${TOKEN}"}',
        'user_key_secret: ${DATA_DIR:-./data}/user-key.secret',
      ].join('\n'));
      const config = loadConfigFile(file, { ...env, TOKEN: 'tok-1234567890abcdef' });
      assert.equal(config.registry?.source, 'mysql');
      assert.equal((config.registry as { url: string }).url, env.DATABASE_URL);
      assert.equal(config.registry?.admin_token, 'tok-1234567890abcdef');
      assert.equal(config.user_key_secret, './data/user-key.secret');
      const err = refusal(() => loadConfigFile(file, env));
      assert.equal(err.message, 'config: registry.admin_token: environment variable TOKEN is not set');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('maskSecrets', () => {
  it('hides tokens, keys and URL passwords, and shows everything else', () => {
    const shown = maskSecrets({
      registry: { url: env.DATABASE_URL, admin_token: 'tok-123', api_key: 'k', users: './users.csv' },
      prehooks: [{ name: 'privtrak', options: { sink: { name: 'postgres', url: 'postgres://u:pw@127.0.0.1/db', schema: 'public' } } }],
      user_key_secret: './data/user-key.secret',
      other: 'postgres://nopassword@127.0.0.1/db',
      empty_token: '',
    });
    assert.deepEqual(shown, {
      registry: { url: 'mysql://tracker:***@db.internal:3306/unit3d', admin_token: '(set)', api_key: '(set)', users: './users.csv' },
      prehooks: [{ name: 'privtrak', options: { sink: { name: 'postgres', url: 'postgres://u:***@127.0.0.1/db', schema: 'public' } } }],
      user_key_secret: './data/user-key.secret',
      other: 'postgres://nopassword@127.0.0.1/db',
      empty_token: '',
    });
    assert.doesNotMatch(JSON.stringify(shown), /s3cr3t|tok-123|:pw@/);
  });
});
