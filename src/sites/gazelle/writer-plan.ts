/**
 * Folds a batch's deltas (those above the applied mark) into the rows the Gazelle writer writes,
 * with Ocelot's meaning of each column (../shared/sites/README.md B.2, B.4). Pure: no database,
 * so the rules are in one place and the SQL (writer-sql.ts) only prints them.
 *
 * Merging per key before writing (as Ocelot and UNIT3D-Announce merge their queues): a peer that
 * announced five times in the batch is one xbt_files_users row, a user one stats row.
 */
import type { StatDelta } from '../../accounting/delta.js';
import { siteUserIdOf } from '../../accounting/user-key.js';
import { agentOf } from './rules-hook.js';
import type { PeerExtras } from '../peer-extras.js';
import type { GazelleFacts } from './facts.js';

/** Gazelle's ids are `int` in xbt_files_users / torrents: anything above cannot be a row there. */
const MAX_ID = 2_147_483_647;
const U32_MAX = 4_294_967_295;
/** xbt_files_users.useragent is varchar(51). */
const AGENT_CHARS = 51;

export type DropReason = 'not_site_user' | 'deleted_user' | 'no_torrent' | 'deleted_torrent';
export const DROP_REASONS: readonly DropReason[] = ['not_site_user', 'deleted_user', 'no_torrent', 'deleted_torrent'];

/** One xbt_files_users row: key (peer_id, fid, uid). */
export interface PeerRow {
  readonly peerId: Buffer;
  readonly fid: number;
  readonly uid: number;
  active: 0 | 1;
  /** Announces in this batch (added to the row's count). */
  announced: number;
  /** 1 once the peer snatched (kept at 1 by the upsert). */
  completed: 0 | 1;
  uploaded: number;
  downloaded: number;
  remaining: number;
  upspeed: number;
  downspeed: number;
  /** Seconds in this batch (added to the row's timespent). */
  timespent: number;
  useragent: string;
  /** Unix seconds of the peer's last delta. */
  mtime: number;
  ip: string;
}

export interface UserRow { readonly uid: number; up: number; down: number }
export interface TorrentRow { readonly fid: number; snatched: number; balance: number }
export interface SnatchRow { readonly uid: number; readonly fid: number; readonly tstamp: number; readonly ip: string }
export interface TokenRow { readonly uid: number; readonly fid: number; downloaded: number }

export interface WritePlan {
  /** Sorted by primary key (peer_id, fid, uid): every transaction locks in the same order, so concurrent writers queue, never deadlock. */
  readonly peers: PeerRow[];
  /** Sorted by uid; only users whose credit changed. */
  readonly users: UserRow[];
  /** Sorted by fid: every torrent with a peer row in the batch (its Seeders/Leechers are recounted). */
  readonly torrents: TorrentRow[];
  /** In seq order: the table has no key, one row per snatch. */
  readonly snatches: SnatchRow[];
  /** Sorted by (uid, fid); only rows with downloaded bytes. */
  readonly tokens: TokenRow[];
  /** Deltas above the mark (0: nothing to write). */
  readonly count: number;
  /** The new mark: the highest seq seen. */
  readonly through: number;
  /** Deltas (or their torrent part) left out, by reason. */
  readonly dropped: Record<DropReason, number>;
}

export interface PlanInput {
  readonly deltas: readonly StatDelta[];
  readonly appliedThrough: number;
  /** Which of the batch's torrent / user ids still exist in the site database. */
  readonly torrentExists: (fid: number) => boolean;
  readonly userExists: (uid: number) => boolean;
  readonly facts: GazelleFacts;
  readonly extras: PeerExtras;
}

/** The Gazelle user ID of a delta's user key, or undefined (a hashed key is no site user). */
export function gazelleUserId(user: Buffer): number | undefined {
  const id = siteUserIdOf(user);
  return id === undefined || id < 1n || id > BigInt(MAX_ID) ? undefined : Number(id);
}

/** The Gazelle torrent ID of a delta, or undefined. */
export function gazelleTorrentId(d: StatDelta): number | undefined {
  const id = d.siteTorrentId;
  return id === null || !Number.isInteger(id) || id < 1 || id > MAX_ID ? undefined : id;
}

/**
 * The IP as Gazelle's varchar(15) holds it: IPv4 text, or '' for IPv6 (Ocelot tracks IPv4 only)
 * and for a protected user (Ocelot writes no IP for them).
 */
export function gazelleIp(ip: string, isProtected: boolean): string {
  if (isProtected) return '';
  const m = /^(?:::ffff:)?(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(ip);
  return m === null ? '' : m[1]!;
}

/**
 * The user agent for xbt_files_users: the client's header when the rules hook recorded it, else
 * the client named from its peer_id (after a crash the journal replays deltas whose headers are
 * gone). Printable ASCII only: the header is the client's bytes, and a character the column's
 * charset cannot hold would fail the batch under strict mode, every retry, forever.
 */
export function gazelleAgent(d: StatDelta, extras: PeerExtras): string {
  // Without the header, the client named as the rules hook names it (agentOf), so a replayed row says the same.
  const agent = extras.get(d.user, d.infoHash, d.peerId)?.agent ?? agentOf(undefined, d.peerId);
  return agent.replace(/[^\x20-\x7e]/g, '?').slice(0, AGENT_CHARS);
}

const byPeerKey = (a: PeerRow, b: PeerRow) => Buffer.compare(a.peerId, b.peerId) || a.fid - b.fid || a.uid - b.uid;

export function planBatch(input: PlanInput): WritePlan {
  const { facts, extras } = input;
  const peers = new Map<string, PeerRow>();
  const users = new Map<number, UserRow>();
  const torrents = new Map<number, TorrentRow>();
  const tokens = new Map<string, TokenRow>();
  const snatches: SnatchRow[] = [];
  const dropped: Record<DropReason, number> = { not_site_user: 0, deleted_user: 0, no_torrent: 0, deleted_torrent: 0 };
  let count = 0;
  let through = input.appliedThrough;

  for (const d of input.deltas) {
    if (d.seq <= input.appliedThrough) continue;
    count++;
    if (d.seq > through) through = d.seq;
    const uid = gazelleUserId(d.user);
    if (uid === undefined) {
      dropped.not_site_user++;
      continue;
    }
    if (!input.userExists(uid)) {
      // Deleted on the site between the announce and this flush: its rows would fail the foreign key (OPS) or orphan.
      dropped.deleted_user++;
      continue;
    }
    // The user's credit stands even when the torrent is gone: the bytes moved while it existed
    // (Ocelot's queued user update is written the same way).
    if (d.creditUp !== 0 || d.creditDown !== 0) {
      let u = users.get(uid);
      if (u === undefined) users.set(uid, u = { uid, up: 0, down: 0 });
      u.up += d.creditUp;
      u.down += d.creditDown;
    }
    const fid = gazelleTorrentId(d);
    if (fid === undefined) {
      dropped.no_torrent++;
      continue;
    }
    if (!input.torrentExists(fid)) {
      // Deleted between the announce and the flush: a torrent-stats row would fail its foreign key
      // and jam every retry; peer and snatch rows would be orphans.
      dropped.deleted_torrent++;
      continue;
    }
    const isProtected = facts.isProtected(uid);
    const ip = gazelleIp(d.ip, isProtected);
    const mtime = Math.floor(d.timeMs / 1000);
    const key = `${d.peerId.toString('latin1')}/${fid}/${uid}`;
    let p = peers.get(key);
    if (p === undefined) {
      p = {
        peerId: d.peerId, fid, uid, active: 1, announced: 0, completed: 0, uploaded: 0, downloaded: 0, remaining: 0,
        upspeed: 0, downspeed: 0, timespent: 0, useragent: '', mtime: 0, ip: '',
      };
      peers.set(key, p);
    }
    // Absolute fields: the latest announce's. Additive ones: summed over the batch.
    p.active = d.baseline === null ? 0 : 1;
    p.announced++;
    if (d.snatch) p.completed = 1;
    p.uploaded = d.uploaded;
    p.downloaded = d.downloaded;
    p.remaining = d.left;
    // Bytes per second since the peer's previous announce, as Ocelot computes it; 0 when the
    // interval is unknown (a new peer, or a counter regression that counted no time).
    const elapsed = d.seedTime + d.leechTime;
    p.upspeed = elapsed > 0 ? Math.min(U32_MAX, Math.floor(d.deltaUp / elapsed)) : 0;
    p.downspeed = elapsed > 0 ? Math.min(U32_MAX, Math.floor(d.deltaDown / elapsed)) : 0;
    p.timespent += elapsed;
    p.useragent = gazelleAgent(d, extras);
    p.mtime = mtime;
    p.ip = ip;

    let t = torrents.get(fid);
    if (t === undefined) torrents.set(fid, t = { fid, snatched: 0, balance: 0 });
    t.balance += d.deltaUp - d.deltaDown;
    if (d.snatch) {
      t.snatched++;
      snatches.push({ uid, fid, tstamp: mtime, ip });
    }
    // Ocelot's token accounting: a token holder's raw download goes to users_freeleeches.Downloaded.
    // Asked at flush time, not at the announce (Ocelot asks at the announce): a token removed in the
    // seconds between is not counted. The facts do not say whether the torrent is neutral, where
    // Ocelot skips this; so a token holder's download on a neutral torrent is counted here too.
    if (d.deltaDown > 0 && facts.hasToken(uid, fid)) {
      const tk = `${uid}/${fid}`;
      let r = tokens.get(tk);
      if (r === undefined) tokens.set(tk, r = { uid, fid, downloaded: 0 });
      r.downloaded += d.deltaDown;
    }
  }
  return {
    peers: [...peers.values()].sort(byPeerKey),
    users: [...users.values()].filter((u) => u.up !== 0 || u.down !== 0).sort((a, b) => a.uid - b.uid),
    torrents: [...torrents.values()].sort((a, b) => a.fid - b.fid),
    snatches,
    tokens: [...tokens.values()].sort((a, b) => a.uid - b.uid || a.fid - b.fid),
    count, through, dropped,
  };
}
