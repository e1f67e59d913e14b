/**
 * The top-level `registry:` block: where users and torrents come from. One registry per
 * tracker, shared by every hook that needs it. `source` picks the implementation:
 *
 *   registry: {source: file, users: ./data/users.csv, torrents: ./data/torrents.csv}
 *   registry: {source: postgres, url: postgres://…, users_query: …, users_changed_query: …}
 *   registry: {source: mysql, url: mysql://…}
 *
 * `admin_token` (any source) turns on the admin API on the metrics listener, and guards its status
 * page (metrics/status-page.ts).
 */
import { z } from 'zod';
import { durationSchema } from '../config/zod-duration.js';
import { hasSince } from './sql-driver.js';
import { DEFAULT_TORRENTS_TABLE, DEFAULT_USERS_TABLE, defaultQueries } from './sql-tables.js';

const adminToken = z.string().default('').refine((v) => v === '' || v.length >= 16, {
  message: 'must be at least 16 characters, or "" to keep the admin API off',
});

const table = (def: string) =>
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'must be a table name, optionally schema-qualified (schema.table)').default(def);

const fullQuery = z.string().min(1).refine((q) => !hasSince(q), { message: 'a full query takes no :since parameter' }).optional();
const changedQuery = z.string().refine((q) => q === '' || hasSince(q), { message: 'must use :since (e.g. WHERE updated_at >= :since), or be "" to reload in full at every refresh' }).optional();

const fileRegistrySchema = z.object({
  source: z.literal('file'),
  users: z.string().default('').describe('users file, YAML or CSV ("" = none)'),
  torrents: z.string().default('').describe('torrents file, YAML or CSV ("" = none)'),
  poll_interval: durationSchema('2s').describe('how often the files are checked for changes'),
  admin_token: adminToken,
}).strict();

const sqlRegistrySchema = <S extends 'postgres' | 'mysql'>(source: S, urlPattern: RegExp, example: string) => z.object({
  source: z.literal(source),
  url: z.string().regex(urlPattern, `must be a ${example} URL`),
  refresh_interval: durationSchema('30s').describe('how often changed rows are fetched'),
  full_reload_interval: durationSchema('15m').describe('how often everything is reloaded (catches rows deleted without a tombstone)'),
  connect_timeout: durationSchema('5s'),
  query_timeout: durationSchema('30s'),
  users_table: table(DEFAULT_USERS_TABLE).describe("privtrak's own users table (read by the default queries, written by the CLI)"),
  torrents_table: table(DEFAULT_TORRENTS_TABLE),
  users_query: fullQuery,
  users_changed_query: changedQuery,
  torrents_query: fullQuery,
  torrents_changed_query: changedQuery,
  admin_token: adminToken,
}).strict();

const postgresRegistrySchema = sqlRegistrySchema('postgres', /^postgres(ql)?:\/\//, 'postgres://');
const mysqlRegistrySchema = sqlRegistrySchema('mysql', /^(mysql|mariadb):\/\//, 'mysql://');
type RawSqlConfig = z.output<typeof postgresRegistrySchema> | z.output<typeof mysqlRegistrySchema>;

/**
 * Fills in the default queries (over privtrak's own tables). They come in pairs: a site that
 * writes its own full query without a changed query gets a full reload at every refresh, never
 * a mix of its table and privtrak's.
 */
function withDefaultQueries(c: RawSqlConfig) {
  const d = defaultQueries(c.users_table, c.torrents_table);
  return {
    ...c,
    users_query: c.users_query ?? d.users,
    users_changed_query: c.users_changed_query ?? (c.users_query === undefined ? d.users_changed : ''),
    torrents_query: c.torrents_query ?? d.torrents,
    torrents_changed_query: c.torrents_changed_query ?? (c.torrents_query === undefined ? d.torrents_changed : ''),
    /** True when no query was configured: the registry reads privtrak's own tables, which the CLI writes. */
    default_queries: c.users_query === undefined && c.users_changed_query === undefined
      && c.torrents_query === undefined && c.torrents_changed_query === undefined,
  };
}

/** A changed query without its full query would read one table incrementally and another in full. */
function pairsComplete(c: RawSqlConfig, ctx: z.RefinementCtx): void {
  for (const part of ['users', 'torrents'] as const) {
    if (c[`${part}_changed_query`] !== undefined && c[`${part}_changed_query`] !== '' && c[`${part}_query`] === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: [`${part}_query`], message: `required when ${part}_changed_query is set` });
    }
  }
}

export const registrySchema = z.discriminatedUnion('source', [
  fileRegistrySchema,
  postgresRegistrySchema,
  mysqlRegistrySchema,
]).superRefine((c, ctx) => {
  if (c.source !== 'file') pairsComplete(c, ctx);
}).transform((c) => (c.source === 'file' ? c : withDefaultQueries(c)));

export type RegistryConfig = z.output<typeof registrySchema>;
export type FileRegistryConfig = Extract<RegistryConfig, { source: 'file' }>;
export type SqlRegistryConfig = Exclude<RegistryConfig, { source: 'file' }>;
