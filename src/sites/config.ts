/**
 * The top-level `site:` block: which site privtrak stands in for, and its database.
 *
 *   site: {name: unit3d, url: "${DATABASE_URL}", api_key: "${SITE_API_KEY}"}
 *   site: {name: gazelle, url: "${DATABASE_URL}", secret: "${SITE_SECRET}"}
 *
 * Option names follow the site's own announce server where there is one (UNIT3D-Announce's
 * .env, Ocelot's ocelot.conf), lower-cased, so an operator can carry the values across.
 */
import { z } from 'zod';
import { durationSchema as duration } from '../config/zod-duration.js';

const mysqlUrl = z.string().regex(/^(mysql|mariadb):\/\/[^/]+\/[^/?]+/, 'must be a mysql:// or mariadb:// URL naming the site\'s database (mysql://user:pass@host:3306/site)');

const common = {
  url: mysqlUrl,
  /**
   * Dry run beside the old announce server: read the site, apply its rules, count every byte,
   * but write nothing to the site's tables (the privtrak hook's own `sink` gets the totals, to
   * compare). The control channel still answers, so the site's calls can be mirrored here too.
   */
  readonly: z.boolean().default(false),
  /** Deadline of one database operation (a batch's transaction, a load query). */
  timeout: duration('30s').refine((ms) => ms >= 100, 'at least 100ms'),
  /** How often stale peer rows are marked inactive (and old inactive ones deleted). */
  reap_interval: duration('1m'),
  /** Records per multi-row statement; 0 = the most MySQL's 65,535 placeholders allow for the table. */
  max_records_per_batch: z.number().int().min(0).default(0),
};

export const unit3dSiteSchema = z.object({
  name: z.literal('unit3d'),
  ...common,
  /** The key UNIT3D calls the push API with (`config/announce.php` `key`, UNIT3D-Announce's APIKEY). */
  api_key: z.string().min(16, 'must be at least 16 characters (UNIT3D-Announce\'s APIKEY)'),
  /** Site-wide factors in percent (UNIT3D-Announce UPLOAD_FACTOR / DOWNLOAD_FACTOR): 200 = double upload, 0 = freeleech. */
  upload_factor: z.number().int().min(0).max(10_000).default(100),
  download_factor: z.number().int().min(0).max(100).default(100),
  /** Immunity for donors / lifetime donors regardless of group (null: the group decides). */
  donor_immunity_override: z.boolean().nullable().default(null),
  lifetime_donor_immunity_override: z.boolean().nullable().default(null),
  max_peers_per_torrent_per_user: z.number().int().min(1).default(3),
  /** Inactive peer rows older than this are deleted by privtrak (UNIT3D's own cron: 2 days). */
  inactive_peer_ttl: duration('2d'),
}).strict();

export const gazelleSiteSchema = z.object({
  name: z.literal('gazelle'),
  ...common,
  /** Gazelle's TRACKER_SECRET: the control channel is /{secret}/update. */
  secret: z.string().min(16, 'must be at least 16 characters (Gazelle\'s TRACKER_SECRET)'),
  /** Gazelle's TRACKER_REPORTKEY: /{report_password}/report?get=stats. "" = reports off. */
  report_password: z.string().default('').refine((v) => v === '' || v.length >= 16, 'must be at least 16 characters, or "" for no reports'),
  /** Table names: ops (OPS Gazelle: users_leech_stats, torrents_leech_stats) or whatcd (users_main, torrents). */
  schema: z.enum(['ops', 'whatcd']).default('ops'),
}).strict();

export const siteSchema = z.discriminatedUnion('name', [unit3dSiteSchema, gazelleSiteSchema]);

export type SiteConfig = z.output<typeof siteSchema>;
export type Unit3dSiteConfig = z.output<typeof unit3dSiteSchema>;
export type GazelleSiteConfig = z.output<typeof gazelleSiteSchema>;

/** The announce and scrape routes the site's torrents carry, used when `http:` names none. */
export const SITE_ROUTES: Record<SiteConfig['name'], { announce: string[]; scrape: string[] }> = {
  // UNIT3D's torrents carry {tracker_url}/announce/{passkey}; UNIT3D-Announce serves no scrape.
  unit3d: { announce: ['/announce/:passkey'], scrape: [] },
  // Gazelle's carry {announce_url}/{passkey}/announce (Ocelot), and scrape beside it.
  gazelle: { announce: ['/:passkey/announce'], scrape: ['/:passkey/scrape'] },
};

/**
 * Fills the routes the site's torrents carry into a raw config that has a `site:` block but
 * names no routes of its own. Before validation, because a default cannot see its siblings.
 */
export function applySiteDefaults(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const cfg = raw as Record<string, unknown>;
  const site = cfg['site'] as Record<string, unknown> | undefined;
  const name = site?.['name'];
  if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(SITE_ROUTES, name)) return raw;
  const routes = SITE_ROUTES[name as SiteConfig['name']];
  const http = cfg['http'];
  if (http !== undefined && (http === null || typeof http !== 'object' || Array.isArray(http))) return raw;
  const h = { ...(http as Record<string, unknown> | undefined) };
  if (h['announce_routes'] === undefined) h['announce_routes'] = routes.announce;
  if (h['scrape_routes'] === undefined) h['scrape_routes'] = routes.scrape;
  return { ...cfg, http: h };
}
