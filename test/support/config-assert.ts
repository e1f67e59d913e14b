/** Asserts that a raw config is refused with a ConfigError naming `key`, for a reason matching `why`. */
import assert from 'node:assert/strict';
import { validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';

export function refuses(raw: unknown, key: string, why: RegExp): void {
  assert.throws(() => validateConfig(raw), (e: ConfigError) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.key, key);
    assert.match(e.message, why);
    return true;
  });
}
