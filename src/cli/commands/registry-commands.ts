/**
 * Operator commands on the configured access registry:
 *
 *   privtrak users import FILE                     bulk-import users (YAML or CSV, the registry file format)
 *   privtrak users import --from-sql QUERY [--from-url URL]
 *                                                  bulk-import from a database (e.g. the old Ocelot/XBT/UNIT3D site):
 *                                                  QUERY returns passkey [, site_id, enabled, can_leech]
 *   privtrak users add PASSKEY [--site-id N] [--no-leech] [--disabled]
 *   privtrak users disable|enable|rm PASSKEY
 *   privtrak torrents add INFO_HASH [--site-id N] [--banned] [--download-multiplier X] [--upload-multiplier Y]
 *   privtrak torrents rm INFO_HASH
 *   privtrak torrents list [--json]
 *
 * `file` registry: the files are rewritten atomically; a running tracker picks the change up
 * at its next poll. SQL registries: privtrak's own tables are written (created if missing),
 * and the tracker picks the change up at its next refresh. For an instant change use the
 * admin API. Passkeys are kept as they are: migrated users keep announcing with their old URLs.
 *
 * `users import` reports its progress on stderr (progress/outputs.ts) and ends with
 * `privtrak: users import: N users in T (R users/s), K rejected` (rejects: rows --skip-invalid skipped).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Config } from '../../config/schema.js';
import { UsageError } from '../usage-error.js';
import { storeFromConfig } from './registry-from-config.js';
import { RegistryFileError, formatOf, parseUsersFile } from '../../access/file-format.js';
import {
  RecordError, normalizeInfoHash, normalizePasskey, torrentFromRow, torrentKey, torrentToJson, userFromRow, type UserRecord,
} from '../../access/records.js';
import { sqlDriverForUrl } from '../../access/index.js';
import { cliProgress } from '../../progress/outputs.js';
import type { Progress } from '../../progress/progress.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'site-id': { type: 'string' },
  'no-leech': { type: 'boolean', default: false },
  disabled: { type: 'boolean', default: false },
  banned: { type: 'boolean', default: false },
  'download-multiplier': { type: 'string' },
  'upload-multiplier': { type: 'string' },
  'from-sql': { type: 'string' },
  'from-url': { type: 'string' },
  'skip-invalid': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function parse(args: string[]): { values: Values; positionals: string[] } {
  return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

function arg<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RecordError) throw new UsageError(err.message);
    throw err;
  }
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}`);
  return positionals[0]!;
}

/** `privtrak users …`; returns the exit code. */
export async function runUsers(args: string[], loadConfig: (path: string | undefined) => Config, io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest);
  const handle = storeFromConfig(loadConfig(values.config));
  if (handle.warning) io.err(`privtrak: warning: ${handle.warning}`);
  const { store } = handle;
  try {
    switch (sub) {
      case 'import': {
        // Rows count as written to the registry; the heartbeat shows the time while a query or a transaction runs.
        const progress = cliProgress({ task: 'users import', rowsName: 'users' }).heartbeat();
        try {
          const users = values['from-sql'] !== undefined
            ? await usersFromSql(values['from-sql'], values['from-url'] ?? defaultUrl(handle.config), values['skip-invalid'] ?? false, io, progress)
            : usersFromFile(one(positionals, 'FILE'), io);
          progress.setTotal(users.length);
          await store.migrate?.();
          const { added, replaced } = await store.putUsers(users, (n) => progress.add(n));
          progress.finish();
          io.out(`privtrak: imported ${users.length} users (${added} new, ${replaced} replaced)`);
          return 0;
        } finally {
          progress.abandon(); // when the import failed: its error says why
        }
      }
      case 'add': {
        const passkey = arg(() => normalizePasskey(one(positionals, 'PASSKEY')));
        const user = arg(() => userFromRow({ passkey, site_id: values['site-id'], enabled: !values.disabled, can_leech: !values['no-leech'] }));
        await store.migrate?.();
        const { added } = await store.putUsers([user]);
        io.out(`privtrak: user ${passkey} ${added ? 'added' : 'replaced'}`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        const passkey = arg(() => normalizePasskey(one(positionals, 'PASSKEY')));
        const u = await store.setUserEnabled(passkey, sub === 'enable');
        if (!u) {
          io.err(`privtrak: no such user: ${passkey}`);
          return 1;
        }
        io.out(`privtrak: user ${passkey} ${sub}d`);
        return 0;
      }
      case 'rm': {
        const passkey = arg(() => normalizePasskey(one(positionals, 'PASSKEY')));
        if (!(await store.removeUser(passkey))) {
          io.err(`privtrak: no such user: ${passkey}`);
          return 1;
        }
        io.out(`privtrak: user ${passkey} removed`);
        return 0;
      }
      default:
        throw new UsageError(`unknown users command "${sub ?? ''}" (import, add, disable, enable, rm)`);
    }
  } finally {
    await store.close();
  }
}

/** `privtrak torrents …`; returns the exit code. */
export async function runTorrents(args: string[], loadConfig: (path: string | undefined) => Config, io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest);
  const handle = storeFromConfig(loadConfig(values.config));
  if (handle.warning && sub !== 'list') io.err(`privtrak: warning: ${handle.warning}`);
  const { store } = handle;
  try {
    switch (sub) {
      case 'add': {
        const ih = arg(() => normalizeInfoHash(one(positionals, 'INFO_HASH')));
        const torrent = arg(() => torrentFromRow({
          info_hash: ih, site_id: values['site-id'], banned: values.banned,
          download_multiplier: values['download-multiplier'], upload_multiplier: values['upload-multiplier'],
        }));
        await store.migrate?.();
        await store.putTorrent(torrent);
        io.out(`privtrak: torrent ${ih.toString('hex')} added`);
        return 0;
      }
      case 'rm': {
        const ih = arg(() => normalizeInfoHash(one(positionals, 'INFO_HASH')));
        if (!(await store.removeTorrent(torrentKey(ih)))) {
          io.err(`privtrak: no such torrent: ${ih.toString('hex')}`);
          return 1;
        }
        io.out(`privtrak: torrent ${ih.toString('hex')} removed`);
        return 0;
      }
      case 'list': {
        if (positionals.length > 0) throw new UsageError('torrents list takes no arguments');
        const rows = (await store.listTorrents()).map(torrentToJson);
        if (values.json) for (const r of rows) io.out(JSON.stringify(r));
        else io.out(table(rows));
        return 0;
      }
      default:
        throw new UsageError(`unknown torrents command "${sub ?? ''}" (add, rm, list)`);
    }
  } finally {
    await store.close();
  }
}

function table(rows: Array<Record<string, unknown>>): string {
  const header = ['info_hash', 'site_id', 'banned', 'download_multiplier', 'upload_multiplier'];
  const lines = rows.map((r) => header.map((h) => (r[h] === null || r[h] === undefined ? '-' : String(r[h]))));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), ...lines.map(fmt)].join('\n');
}

function defaultUrl(cfg: { source: string; url?: string }): string {
  if (cfg.source !== 'file' && cfg.url) return cfg.url;
  throw new UsageError('--from-sql needs --from-url (the registry is not a database)');
}

function usersFromFile(path: string, io: Io): UserRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  let users: UserRecord[];
  try {
    users = parseUsersFile(text, formatOf(path), path);
  } catch (err) {
    if (err instanceof RegistryFileError) throw new UsageError(`${err.message} (nothing imported)`);
    throw err;
  }
  io.err(`privtrak: read ${users.length} users from ${path}`);
  return users;
}

/** Runs QUERY on the old site's database; every row must be valid unless --skip-invalid. */
async function usersFromSql(query: string, url: string, skipInvalid: boolean, io: Io, progress: Progress): Promise<UserRecord[]> {
  const db = sqlDriverForUrl(url);
  try {
    const rows = await db.query(query);
    const users: UserRecord[] = [];
    let bad = 0;
    for (const [i, row] of rows.entries()) {
      try {
        users.push(userFromRow(row));
      } catch (err) {
        if (!(err instanceof RecordError)) throw err;
        if (!skipInvalid) throw new Error(`row ${i + 1}: ${err.message} (nothing imported; --skip-invalid imports the valid rows)`);
        progress.reject();
        if (bad++ < 5) io.err(`privtrak: skipped row ${i + 1}: ${err.message}`);
      }
    }
    if (bad > 0) io.err(`privtrak: skipped ${bad} invalid rows`);
    io.err(`privtrak: read ${users.length} users from the database`);
    return users;
  } finally {
    await db.close();
  }
}
