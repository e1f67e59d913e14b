/**
 * User keys for the operator commands (`stats --user`, `migrate`): the same keys the privtrak hook
 * makes (accounting/user-key.ts), from the config — with a registry and `user_approval`, a
 * passkey's site user ID from the registry; otherwise, and for users without a site ID, the keyed
 * hash under the installation's secret (`user_key_secret`).
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { createRegistrySource } from '../../access/index.js';
import { RecordError, normalizePasskey, toSiteId, type UserRecord } from '../../access/records.js';
import { UserKeys, siteUserKey } from '../../accounting/user-key.js';
import { loadUserKeySecret } from '../../user-key-secret.js';
import { UsageError } from '../usage-error.js';

/** Registry mode: `user_approval` gives the privtrak hook site user IDs from the registry. */
export function registryMode(config: Config): boolean {
  return config.registry !== undefined && config.prehooks.some((h) => h.name === 'user_approval');
}

/** Every user the registry's source holds now (one full load; nothing is kept running). */
export async function loadRegistryUsers(config: Config): Promise<UserRecord[]> {
  if (config.registry === undefined) return [];
  const source = createRegistrySource(config.registry);
  try {
    return (await source.load()).allUsers ?? [];
  } finally {
    await source.close();
  }
}

/**
 * A passkey history: CSV lines `passkey,site_id` (a header line naming `passkey` is skipped), for
 * passkeys a site has replaced and the registry no longer holds. Returns passkey → site ID.
 */
export function readPasskeyHistory(path: string): Map<string, number> {
  const history = new Map<string, number>();
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  lines.forEach((line, i) => {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return;
    const [passkey, site] = text.split(',').map((f) => f.trim().replace(/^"|"$/g, ''));
    if (i === 0 && passkey?.toLowerCase() === 'passkey') return;
    try {
      const id = toSiteId(site);
      if (id === null) throw new RecordError('site_id', 'missing');
      history.set(normalizePasskey(passkey), id);
    } catch (err) {
      throw new UsageError(`--history ${path}: line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return history;
}

/** The installation's user keys; the secret is created only if `create` (a command that writes). */
export function userKeysFromConfig(config: Config, create: boolean): UserKeys {
  return new UserKeys(loadUserKeySecret(config.user_key_secret, { create }));
}

/**
 * `stats --user PASSKEY`: the passkey's key as the tracker makes it — the registry's site user ID,
 * else the keyed hash (the secret is read, never created, here).
 */
export function passkeyResolver(config: Config): (passkey: string) => Promise<Buffer> {
  return async (passkey) => {
    if (registryMode(config)) {
      const user = (await loadRegistryUsers(config)).find((u) => u.passkey === passkey.toLowerCase());
      if (user !== undefined && user.siteId !== null) return siteUserKey(user.siteId);
    }
    return userKeysFromConfig(config, false).forPasskey(passkey);
  };
}
