/**
 * The UNIT3D writer's first step: a batch's deltas (above the applied mark) as announces of site
 * users, then folded into one row per key of each table UNIT3D-Announce writes (users, history,
 * peers, torrents), merging as its queues merge (../shared/sites/README.md A.1): sums for the
 * credited/raw deltas, seed time and completions; the newest value for absolute fields (client
 * totals, agent, seeder, the peer's whole state); the earliest creation and the latest update.
 *
 * Two passes, because what a row may hold depends on the database: `decodeAnnounces` reads the
 * deltas (and which users and torrents they name, for the writer to look up), `fold` builds the
 * rows once the writer knows which of those still exist (a torrent deleted between announce and
 * flush must not get rows: history has foreign keys).
 */
import type { StatDelta } from '../../accounting/delta.js';
import { siteUserIdOf } from '../../accounting/user-key.js';
import { RECORD_SIZE, decodeRecordView } from '../../accounting/delta-record.js';
import { packIPv4, packIPv6 } from '../../bittorrent/ip.js';
import { clientAgent } from './client-rules.js';
import { SIDE_EXTRA, SIDE_IMMUNE, SIDE_VISIBLE, sideAgentIndex, type RecordSide } from './writer-side.js';

/** One counted announce of a site user, with what the site's rows need. */
export interface Announce {
  readonly userId: number;
  /** Null: the delta named no site torrent (only the user's credit can be written). */
  readonly torrentId: number | null;
  readonly d: StatDelta;
  /** The agent the rows get (the client's header as the rules hook saw it, else named from the peer_id). */
  readonly agent: string;
  /** UNIT3D's peers.visible (download slots), true when the announce thread knew nothing of the peer. */
  readonly visible: boolean;
}

export interface Decoded {
  readonly announces: Announce[];
  /** Deltas applied by this batch (above the mark), site users or not. */
  readonly count: number;
  /** Highest seq of the batch (the new mark). */
  readonly through: number;
  /** Deltas keyed by a hashed passkey (not a site user): counted, nothing written. */
  readonly notSiteUser: number;
  /** Users of the batch whose history rows are immune (the site state's answer when the batch was handed over). */
  readonly immune: ReadonlySet<number>;
}

/** Site user IDs are `int unsigned` in UNIT3D: anything else is not one of its users. */
const USER_ID_MAX = 0xffff_ffff;

/**
 * The deltas above `appliedThrough` as site announces, in seq order: the batch's records read as
 * views (decodeRecordView: the ids are not copied; nothing of a batch is kept once it is written),
 * with what the announce thread added for each record (`side`, writer-side.ts).
 */
export function decodeAnnounces(records: Buffer, side: RecordSide, appliedThrough: number): Decoded {
  const announces: Announce[] = [];
  const immune = new Set<number>();
  let count = 0;
  let through = appliedThrough;
  let notSiteUser = 0;
  for (let i = 0, off = 0; off + RECORD_SIZE <= records.length; i++, off += RECORD_SIZE) {
    const d = decodeRecordView(records, off);
    if (d.seq <= appliedThrough) continue;
    count++;
    if (d.seq > through) through = d.seq;
    const id = siteUserIdOf(d.user);
    if (id === undefined || id > BigInt(USER_ID_MAX)) {
      notSiteUser++;
      continue;
    }
    const t = d.siteTorrentId;
    const bits = side.flags[i] ?? 0;
    const userId = Number(id);
    if ((bits & SIDE_IMMUNE) !== 0) immune.add(userId);
    const known = (bits & SIDE_EXTRA) !== 0;
    announces.push({
      userId, torrentId: t !== null && Number.isSafeInteger(t) && t >= 0 && t <= USER_ID_MAX ? t : null, d,
      agent: agentOf(known ? side.agents[sideAgentIndex(bits)] : undefined, d.peerId), visible: !known || (bits & SIDE_VISIBLE) !== 0,
    });
  }
  return { announces, count, through, notSiteUser, immune };
}

export interface UserCredit {
  readonly userId: number;
  uploaded: number;
  downloaded: number;
}

export interface HistoryRow {
  readonly userId: number;
  readonly torrentId: number;
  agent: string;
  uploaded: number;
  actualUploaded: number;
  clientUploaded: number;
  downloaded: number;
  actualDownloaded: number;
  clientDownloaded: number;
  seeder: boolean;
  seedtime: number;
  /** Whether the user has an active peer on the torrent after the batch (set by the writer from the peers table). */
  active: boolean;
  readonly createdMs: number;
  updatedMs: number;
  /** Time of the first snatch in the batch, or null. */
  completedMs: number | null;
}

export interface PeerRow {
  readonly userId: number;
  readonly torrentId: number;
  readonly peerId: Buffer;
  ip: Buffer;
  port: number;
  agent: string;
  uploaded: number;
  downloaded: number;
  left: number;
  active: boolean;
  visible: boolean;
  readonly createdMs: number;
  updatedMs: number;
}

export interface TorrentRow {
  readonly torrentId: number;
  /** Counter deltas: set by the writer from each peer row's transition. */
  seeders: number;
  leechers: number;
  timesCompleted: number;
  /** Raw up minus raw down. */
  balance: number;
  updatedMs: number;
}

export interface Folded {
  readonly users: Map<number, UserCredit>;
  readonly history: Map<string, HistoryRow>;
  readonly peers: Map<string, PeerRow>;
  readonly torrents: Map<number, TorrentRow>;
  /** Rows not written because their user or torrent is gone from the site. */
  readonly droppedUser: number;
  readonly droppedTorrent: number;
  /** Announces that named no site torrent (credited to the user, no torrent rows). */
  readonly noTorrent: number;
}

export const pairKey = (userId: number, torrentId: number): string => `${userId}:${torrentId}`;
export const peerKey = (userId: number, torrentId: number, peerId: Buffer): string => `${userId}:${torrentId}:${peerId.toString('hex')}`;

/** The peer's address as `peers.ip` holds it: the raw 4 or 16 octets. */
export function ipBytes(ip: string): Buffer {
  return ip.includes(':') ? packIPv6(ip, 0).subarray(0, 16) : packIPv4(ip, 0).subarray(0, 4);
}

/** `agent` columns are varchar(64): at most 64 characters, and no character outside the BMP (a utf8mb3 column would refuse it). */
export function clampAgent(agent: string): string {
  const clean = agent.replace(/[\u{10000}-\u{10FFFF}]/gu, '?');
  return [...clean].slice(0, 64).join('');
}

/**
 * The agent written for a delta, memoised: a batch's agents come from a few clients, and
 * clampAgent's scan (and naming a client from its peer_id, which reads only its first 8 bytes)
 * per delta was a measurable part of a batch's client time. Bounded: cleared past 1,024 entries.
 */
const agents = new Map<string, string>();
function agentOf(header: string | undefined, peerId: Buffer): string {
  const key = header ?? `\0${peerId.toString('latin1', 0, 8)}`;
  let agent = agents.get(key);
  if (agent === undefined) {
    agent = clampAgent(header ?? clientAgent(peerId));
    if (agents.size >= 1024) agents.clear();
    agents.set(key, agent);
  }
  return agent;
}

/** Existence not known yet: fold everything, and drop what is gone afterwards (pruneGone). */
export const ASSUME_EXISTING: Existing = { users: { has: () => true } as unknown as ReadonlySet<number>, torrents: { has: () => true } as unknown as ReadonlySet<number> };

/**
 * The fold with the real existence, from one made with ASSUME_EXISTING: the same when every user
 * and torrent of the batch still exists (the usual case), else folded again (a gone user's deltas
 * touch its torrents' counters too, so they are not simply rows to drop). Lets the writer fold
 * while the server is still answering the existence reads.
 */
export function pruneGone(f: Folded, announces: readonly Announce[], existing: Existing): Folded {
  for (const a of announces) {
    if (!existing.users.has(a.userId) || (a.torrentId !== null && !existing.torrents.has(a.torrentId))) return fold(announces, existing);
  }
  return f;
}

export interface Existing {
  /** Users and torrents found in the site's tables. */
  readonly users: ReadonlySet<number>;
  readonly torrents: ReadonlySet<number>;
}

/** Folds the announces into rows, leaving out users and torrents the site no longer has. */
export function fold(announces: readonly Announce[], existing: Existing): Folded {
  const users = new Map<number, UserCredit>();
  const history = new Map<string, HistoryRow>();
  const peers = new Map<string, PeerRow>();
  const torrents = new Map<number, TorrentRow>();
  let droppedUser = 0;
  let droppedTorrent = 0;
  let noTorrent = 0;
  for (const { userId, torrentId, d, agent, visible } of announces) {
    if (!existing.users.has(userId)) {
      droppedUser++;
      continue;
    }
    // Credited bytes go to the user even when the torrent is gone: they were transferred.
    if (d.creditUp !== 0 || d.creditDown !== 0) {
      const u = users.get(userId);
      if (u === undefined) users.set(userId, { userId, uploaded: d.creditUp, downloaded: d.creditDown });
      else {
        u.uploaded += d.creditUp;
        u.downloaded += d.creditDown;
      }
    }
    if (torrentId === null) {
      noTorrent++;
      continue;
    }
    if (!existing.torrents.has(torrentId)) {
      droppedTorrent++;
      continue;
    }
    const seeder = d.left === 0;
    const t = d.timeMs;

    const hk = pairKey(userId, torrentId);
    const h = history.get(hk);
    if (h === undefined) {
      history.set(hk, {
        userId, torrentId, agent, uploaded: d.creditUp, actualUploaded: d.deltaUp, clientUploaded: d.uploaded,
        downloaded: d.creditDown, actualDownloaded: d.deltaDown, clientDownloaded: d.downloaded, seeder,
        seedtime: d.seedTime, active: false, createdMs: t, updatedMs: t, completedMs: d.snatch ? t : null,
      });
    } else {
      h.agent = agent;
      h.uploaded += d.creditUp;
      h.actualUploaded += d.deltaUp;
      h.clientUploaded = d.uploaded;
      h.downloaded += d.creditDown;
      h.actualDownloaded += d.deltaDown;
      h.clientDownloaded = d.downloaded;
      h.seeder = seeder;
      h.seedtime += d.seedTime;
      if (t > h.updatedMs) h.updatedMs = t;
      if (d.snatch && h.completedMs === null) h.completedMs = t;
    }

    const pk = peerKey(userId, torrentId, d.peerId);
    const active = d.baseline !== null; // no baseline left: the peer stopped
    const p = peers.get(pk);
    if (p === undefined) {
      peers.set(pk, {
        userId, torrentId, peerId: d.peerId, ip: ipBytes(d.ip), port: d.port, agent, uploaded: d.uploaded, downloaded: d.downloaded,
        left: d.left, active, visible, createdMs: t, updatedMs: t,
      });
    } else {
      // Deltas come in seq order: the last one is the peer's state.
      p.ip = ipBytes(d.ip);
      p.port = d.port;
      p.agent = agent;
      p.uploaded = d.uploaded;
      p.downloaded = d.downloaded;
      p.left = d.left;
      p.active = active;
      p.visible = visible;
      if (t > p.updatedMs) p.updatedMs = t;
    }

    const tr = torrents.get(torrentId);
    const balance = d.deltaUp - d.deltaDown;
    if (tr === undefined) {
      torrents.set(torrentId, { torrentId, seeders: 0, leechers: 0, timesCompleted: d.snatch ? 1 : 0, balance, updatedMs: t });
    } else {
      if (d.snatch) tr.timesCompleted++;
      tr.balance += balance;
      if (t > tr.updatedMs) tr.updatedMs = t;
    }
  }
  return { users, history, peers, torrents, droppedUser, droppedTorrent, noTorrent };
}
