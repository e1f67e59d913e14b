/**
 * The registry's merge rules, with a source whose refreshes the test scripts: full reloads,
 * incremental changes, admin overrides held over a SQL-like (read-only) source until the
 * source's own row changes, and failures counted while the last good copy stays.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { fixedRegistry, torrent, user } from '../support/access.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);
const T = Buffer.alloc(20, 1);

async function value(metrics: Registry, name: string): Promise<number> {
  return (await metrics.getSingleMetric(name)!.get()).values.reduce((s, v) => s + v.value, 0);
}

describe('access registry', () => {
  it('looks users up by passkey in any case, torrents by info_hash', async () => {
    const { registry } = await fixedRegistry([user(A, { siteId: 1 })], [torrent(T, { siteId: 2 })]);
    assert.equal(registry.user(A)?.siteId, 1);
    assert.equal(registry.user(A.toUpperCase())?.siteId, 1);
    assert.equal(registry.user(B), undefined);
    assert.equal(registry.user('short'), undefined);
    assert.equal(registry.torrent(T)?.siteId, 2);
    assert.equal(registry.torrent(Buffer.alloc(20, 2)), undefined);
  });

  it('applies full reloads and incremental changes (including removals)', async () => {
    const { registry, source } = await fixedRegistry([user(A), user(B)]);
    source.next = { users: [user(A, { enabled: false }), user(C)], removedUsers: [B] };
    assert.equal(await registry.refresh(), true);
    assert.equal(registry.user(A)?.enabled, false);
    assert.equal(registry.user(B), undefined);
    assert.ok(registry.user(C));
    source.next = { allUsers: [user(B)] };
    await registry.refresh();
    assert.deepEqual([registry.user(A), !!registry.user(B), registry.user(C)], [undefined, true, undefined]);
  });

  it('keeps the last good copy when a refresh fails, counting the failure', async () => {
    const metrics = new Registry();
    const { registry, source } = await fixedRegistry([user(A)], [], metrics);
    source.failWith = new Error('connection refused');
    assert.equal(await registry.refresh(), false);
    assert.equal(await registry.refresh(), false);
    assert.ok(registry.user(A));
    assert.equal(await value(metrics, 'privtrak_registry_refresh_failures_total'), 2);
    const before = registry.lastSuccessMs;
    source.failWith = undefined;
    assert.equal(await registry.refresh(), true);
    assert.ok(registry.lastSuccessMs >= before);
    assert.equal(await value(metrics, 'privtrak_registry_users'), 1);
  });

  it('admin changes over a read-only source take effect at once and hold until the source\'s row changes', async () => {
    const { registry, source } = await fixedRegistry([user(A), user(B)], [torrent(T)]);
    assert.equal((await registry.setUserEnabled(A, false))?.enabled, false);
    await registry.removeUser(B);
    await registry.putUser(user(C, { siteId: 3 }));
    await registry.putTorrent(torrent(T, { banned: true }));
    assert.equal(registry.user(A)?.enabled, false);
    assert.equal(registry.user(B), undefined);
    assert.equal(registry.user(C)?.siteId, 3);
    assert.equal(registry.torrent(T)?.banned, true);
    assert.equal(registry.status().overrides, 4);

    // A full reload that says the same as before the admin changes: the overrides stand.
    source.next = { allUsers: [user(A), user(B)], allTorrents: [torrent(T)] };
    await registry.refresh();
    assert.equal(registry.user(A)?.enabled, false);
    assert.equal(registry.user(B), undefined);
    assert.equal(registry.user(C)?.siteId, 3);
    assert.equal(registry.torrent(T)?.banned, true);

    // An incremental refresh bringing A's row unchanged: still held. B's row changed at the source: the source wins.
    source.next = { users: [user(A), user(B, { siteId: 99 })] };
    await registry.refresh();
    assert.equal(registry.user(A)?.enabled, false);
    assert.equal(registry.user(B)?.siteId, 99);

    // The site itself now changes A (and removes T): the database is the source of truth.
    source.next = { allUsers: [user(A, { canLeech: false }), user(B, { siteId: 99 })], allTorrents: [] };
    await registry.refresh();
    assert.deepEqual(registry.user(A), user(A, { canLeech: false }));
    assert.equal(registry.user(C)?.siteId, 3, 'C is still not at the source: the added user stays');
    assert.equal(registry.torrent(T), undefined);
    assert.equal(registry.status().overrides, 1);
  });

  it('an admin change given an upper-case passkey changes the user under its own key, so a reload still holds it', async () => {
    const { registry, source } = await fixedRegistry([user(A), user(B)]);
    assert.equal((await registry.setUserEnabled(A.toUpperCase(), false))?.passkey, A);
    assert.equal(await registry.removeUser(B.toUpperCase()), true);
    assert.equal(registry.status().overrides, 2);
    source.next = { allUsers: [user(A), user(B)] }; // unchanged at the source: both overrides stand
    await registry.refresh();
    assert.equal(registry.user(A)?.enabled, false);
    assert.equal(registry.user(B), undefined);
    assert.equal(registry.status().users, 1);
  });

  it('admin changes of unknown users and torrents report "not found"', async () => {
    const { registry } = await fixedRegistry([]);
    assert.equal(await registry.setUserEnabled(A, true), undefined);
    assert.equal(await registry.removeUser(A), false);
    assert.equal(await registry.removeTorrent(T.toString('latin1')), false);
  });
});
