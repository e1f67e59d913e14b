/**
 * What the access registry knows about a user and a torrent, and how raw values from a file,
 * a database row or the admin API become those records. Records are plain objects with every
 * field present (null where the source has nothing), so lookups on the announce path stay
 * monomorphic.
 *
 * Keys: a user is keyed by its passkey as 32 lower-case hex characters — the form in which it
 * arrives in the announce URL, so a look-up needs no decoding. A torrent is keyed by the
 * latin1 string of its 20-byte info_hash (one character per byte: binary-safe and cheap).
 */

export interface UserRecord {
  /** 32 lower-case hex characters. privtrak accounts to the site user (siteId), or to a keyed hash of the passkey (accounting/user-key.ts). */
  readonly passkey: string;
  /** The site's own numeric user ID, if the source has one. */
  readonly siteId: number | null;
  /** false: disabled or banned — every announce is refused. */
  readonly enabled: boolean;
  /** false: download privileges revoked — seeding (left=0) is allowed, leeching refused. */
  readonly canLeech: boolean;
}

export interface TorrentRecord {
  /** latin1 string of the 20-byte info_hash (see torrentKey). */
  readonly key: string;
  /** The site's own numeric torrent ID, if the source has one. */
  readonly siteId: number | null;
  /** true: refused in either mode of torrent_approval. */
  readonly banned: boolean;
  /** Per-torrent multipliers (freeleech = download 0, double upload = upload 2); null: the site-wide value. */
  readonly downloadMultiplier: number | null;
  readonly uploadMultiplier: number | null;
}

/** Thrown for a value that cannot become a record; `field` names the column or key. */
export class RecordError extends Error {
  constructor(readonly field: string, reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'RecordError';
  }
}

const HEX32 = /^[0-9a-fA-F]{32}$/;
const HEX40 = /^[0-9a-fA-F]{40}$/;

/** The map key of a torrent: latin1 of the 20 bytes. */
export function torrentKey(infoHash: Buffer): string {
  return infoHash.toString('latin1');
}

export function torrentKeyToHex(key: string): string {
  return Buffer.from(key, 'latin1').toString('hex');
}

/** A passkey as given by an operator or a database: 32 hex characters, or 16 raw bytes (a BINARY(16) column). */
export function normalizePasskey(value: unknown, field = 'passkey'): string {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const buf = Buffer.from(value);
    if (buf.length === 16) return buf.toString('hex');
    // A CHAR(32) column read as bytes (some MySQL collations): accept the hex text.
    if (buf.length === 32 && HEX32.test(buf.toString('latin1'))) return buf.toString('latin1').toLowerCase();
    throw new RecordError(field, `expected 32 hex characters or 16 bytes, got ${buf.length} bytes`);
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (HEX32.test(text)) return text.toLowerCase();
  }
  throw new RecordError(field, 'expected 32 hex characters');
}

/** An info_hash: 40 hex characters or 20 raw bytes (a BINARY(20)/bytea column). Returns the 20 bytes. */
export function normalizeInfoHash(value: unknown, field = 'info_hash'): Buffer {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const buf = Buffer.from(value);
    if (buf.length === 20) return buf;
    if (buf.length === 40 && HEX40.test(buf.toString('latin1'))) return Buffer.from(buf.toString('latin1'), 'hex');
    throw new RecordError(field, `expected 40 hex characters or 20 bytes, got ${buf.length} bytes`);
  }
  if (typeof value === 'string' && HEX40.test(value.trim())) return Buffer.from(value.trim(), 'hex');
  throw new RecordError(field, 'expected 40 hex characters');
}

const TRUE = new Set(['1', 'true', 't', 'yes', 'y', 'on']);
const FALSE = new Set(['0', 'false', 'f', 'no', 'n', 'off']);

/** Booleans as databases and CSV files write them: true/false, 1/0, 't'/'f', yes/no. Absent → `fallback`. */
export function toBool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value) !== 0;
  if (Buffer.isBuffer(value) && value.length === 1) return value[0] !== 0 && value[0] !== 0x30; // BIT(1) or '0'
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  throw new RecordError(field, `expected a boolean, got ${JSON.stringify(String(value))}`);
}

/** A site ID: a non-negative safe integer (BIGINT columns arrive as strings or bigints). Absent → null. */
export function toSiteId(value: unknown, field = 'site_id'): number | null {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'string' ? Number(value.trim()) : typeof value === 'bigint' ? Number(value) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  throw new RecordError(field, `expected a non-negative integer, got ${JSON.stringify(String(value))}`);
}

/** Largest multiplier accepted: a guard against a typo (200 instead of 2.00) crediting a fortune. */
export const MAX_MULTIPLIER = 100;

/** A multiplier: a finite number in [0, 100]. Absent → null (use the site-wide value). */
export function toMultiplier(value: unknown, field: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'string' ? Number(value.trim()) : Number(value);
  if (Number.isFinite(n) && n >= 0 && n <= MAX_MULTIPLIER) return n;
  throw new RecordError(field, `expected a number from 0 to ${MAX_MULTIPLIER}, got ${JSON.stringify(String(value))}`);
}

/** A user from a row or mapping with the registry's column names (passkey, site_id, enabled, can_leech). */
export function userFromRow(row: Record<string, unknown>): UserRecord {
  return {
    passkey: normalizePasskey(row['passkey']),
    siteId: toSiteId(row['site_id']),
    enabled: toBool(row['enabled'], 'enabled', true),
    canLeech: toBool(row['can_leech'], 'can_leech', true),
  };
}

/** A torrent from a row or mapping (info_hash, site_id, banned, download_multiplier, upload_multiplier). */
export function torrentFromRow(row: Record<string, unknown>): TorrentRecord {
  return {
    key: torrentKey(normalizeInfoHash(row['info_hash'])),
    siteId: toSiteId(row['site_id']),
    banned: toBool(row['banned'], 'banned', false),
    downloadMultiplier: toMultiplier(row['download_multiplier'], 'download_multiplier'),
    uploadMultiplier: toMultiplier(row['upload_multiplier'], 'upload_multiplier'),
  };
}

export function sameUser(a: UserRecord | undefined, b: UserRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.passkey === b.passkey && a.siteId === b.siteId && a.enabled === b.enabled && a.canLeech === b.canLeech;
}

export function sameTorrent(a: TorrentRecord | undefined, b: TorrentRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.key === b.key && a.siteId === b.siteId && a.banned === b.banned
    && a.downloadMultiplier === b.downloadMultiplier && a.uploadMultiplier === b.uploadMultiplier;
}

/** The JSON/YAML form of a user (the registry file's and the admin API's field names). */
export function userToJson(u: UserRecord): Record<string, unknown> {
  return { passkey: u.passkey, site_id: u.siteId, enabled: u.enabled, can_leech: u.canLeech };
}

export function torrentToJson(t: TorrentRecord): Record<string, unknown> {
  return {
    info_hash: torrentKeyToHex(t.key), site_id: t.siteId, banned: t.banned,
    download_multiplier: t.downloadMultiplier, upload_multiplier: t.uploadMultiplier,
  };
}
