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
import { RECORD, RECORD_SIZE, get32, get64 } from '../../accounting/delta-record.js';
import { packIPv4, packIPv6 } from '../../bittorrent/ip.js';
import { clientAgent } from './client-rules.js';
import { SIDE_EXTRA, SIDE_IMMUNE, SIDE_VISIBLE, sideAgentIndex, siteUserAt, type RecordSide } from './writer-side.js';

/**
 * One counted announce of a site user: where its record is, and what the site's rows need that
 * the record does not say. Fields are read from the record where they are used (no decoded
 * delta per record: its objects were a good part of a batch's garbage).
 */
export interface Announce {
  /** The record's offset in the batch's records. */
  readonly off: number;
  readonly userId: number;
  /** Null: the delta named no site torrent (only the user's credit can be written). */
  readonly torrentId: number | null;
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
 * The deltas above `appliedThrough` as site announces, in seq order: read from the batch's records
 * in place (they stay valid until the batch is written; nothing of them is kept after), with what
 * the announce thread added for each record (`side`, writer-side.ts).
 */
export function decodeAnnounces(records: Buffer, side: RecordSide, appliedThrough: number): Decoded {
  const announces: Announce[] = [];
  const immune = new Set<number>();
  let count = 0;
  let through = appliedThrough;
  let notSiteUser = 0;
  for (let i = 0, off = 0; off + RECORD_SIZE <= records.length; i++, off += RECORD_SIZE) {
    const seq = get64(records, off + RECORD.seq);
    if (seq <= appliedThrough) continue;
    count++;
    if (seq > through) through = seq;
    const userId = siteUserAt(records, off);
    if (userId < 0) {
      notSiteUser++;
      continue;
    }
    let torrentId: number | null = null;
    if ((records[off + RECORD.bits]! & RECORD.siteTorrentIdBit) !== 0) {
      const t = get64(records, off + RECORD.siteTorrentId);
      if (t <= USER_ID_MAX) torrentId = t;
    }
    const bits = side.flags[i] ?? 0;
    if ((bits & SIDE_IMMUNE) !== 0) immune.add(userId);
    const known = (bits & SIDE_EXTRA) !== 0;
    announces.push({
      off, userId, torrentId, agent: agentOf(known ? side.agents[sideAgentIndex(bits)] : undefined, records, off + RECORD.peerId),
      visible: !known || (bits & SIDE_VISIBLE) !== 0,
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
  readonly history: Map<PairKey, HistoryRow>;
  readonly peers: Map<string, PeerRow>;
  readonly torrents: Map<number, TorrentRow>;
  /** Rows not written because their user or torrent is gone from the site. */
  readonly droppedUser: number;
  readonly droppedTorrent: number;
  /** Announces that named no site torrent (credited to the user, no torrent rows). */
  readonly noTorrent: number;
}

/**
 * A (user, torrent) pair as a map key: one number while the user ID is below 2^21 (the pair then
 * fits in 2^53), which is every site's case; a string past it. Numbers: no string per delta.
 */
export type PairKey = number | string;
export const pairKey = (userId: number, torrentId: number): PairKey => (userId < 0x20_0000 ? userId * 0x1_0000_0000 + torrentId : `${userId}:${torrentId}`);
/** A peers row as a map key: its pair and its peer_id's bytes as latin1 (writer-peers.ts reads the table's rows the same way). */
export const peerKey = (userId: number, torrentId: number, peerIdLatin1: string): string => `${pairKey(userId, torrentId)}:${peerIdLatin1}`;

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
function agentOf(header: string | undefined, records: Buffer, peerIdAt: number): string {
  const key = header ?? `\0${records.toString('latin1', peerIdAt, peerIdAt + 8)}`;
  let agent = agents.get(key);
  if (agent === undefined) {
    agent = clampAgent(header ?? clientAgent(records.subarray(peerIdAt, peerIdAt + 20)));
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
export function pruneGone(f: Folded, records: Buffer, announces: readonly Announce[], existing: Existing): Folded {
  for (const a of announces) {
    if (!existing.users.has(a.userId) || (a.torrentId !== null && !existing.torrents.has(a.torrentId))) return fold(records, announces, existing);
  }
  return f;
}

export interface Existing {
  /** Users and torrents found in the site's tables. */
  readonly users: ReadonlySet<number>;
  readonly torrents: ReadonlySet<number>;
}

/** Folds the announces (records of `records`) into rows, leaving out users and torrents the site no longer has. */
export function fold(records: Buffer, announces: readonly Announce[], existing: Existing): Folded {
  const users = new Map<number, UserCredit>();
  const history = new Map<PairKey, HistoryRow>();
  const peers = new Map<string, PeerRow>();
  const torrents = new Map<number, TorrentRow>();
  let droppedUser = 0;
  let droppedTorrent = 0;
  let noTorrent = 0;
  const r = records;
  for (const { off, userId, torrentId, agent, visible } of announces) {
    if (!existing.users.has(userId)) {
      droppedUser++;
      continue;
    }
    const creditUp = get64(r, off + RECORD.creditUp);
    const creditDown = get64(r, off + RECORD.creditDown);
    // Credited bytes go to the user even when the torrent is gone: they were transferred.
    if (creditUp !== 0 || creditDown !== 0) {
      const u = users.get(userId);
      if (u === undefined) users.set(userId, { userId, uploaded: creditUp, downloaded: creditDown });
      else {
        u.uploaded += creditUp;
        u.downloaded += creditDown;
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
    const bits = r[off + RECORD.bits]!;
    const snatch = (bits & RECORD.snatchBit) !== 0;
    const uploaded = get64(r, off + RECORD.uploaded);
    const downloaded = get64(r, off + RECORD.downloaded);
    const left = get64(r, off + RECORD.left);
    const deltaUp = get64(r, off + RECORD.deltaUp);
    const deltaDown = get64(r, off + RECORD.deltaDown);
    const seedTime = get32(r, off + RECORD.seedTime);
    const seeder = left === 0;
    const t = get64(r, off + RECORD.timeMs);

    const hk = pairKey(userId, torrentId);
    const h = history.get(hk);
    if (h === undefined) {
      history.set(hk, {
        userId, torrentId, agent, uploaded: creditUp, actualUploaded: deltaUp, clientUploaded: uploaded,
        downloaded: creditDown, actualDownloaded: deltaDown, clientDownloaded: downloaded, seeder,
        seedtime: seedTime, active: false, createdMs: t, updatedMs: t, completedMs: snatch ? t : null,
      });
    } else {
      h.agent = agent;
      h.uploaded += creditUp;
      h.actualUploaded += deltaUp;
      h.clientUploaded = uploaded;
      h.downloaded += creditDown;
      h.actualDownloaded += deltaDown;
      h.clientDownloaded = downloaded;
      h.seeder = seeder;
      h.seedtime += seedTime;
      if (t > h.updatedMs) h.updatedMs = t;
      if (snatch && h.completedMs === null) h.completedMs = t;
    }

    const pk = peerKey(userId, torrentId, r.toString('latin1', off + RECORD.peerId, off + RECORD.peerId + 20));
    const active = (bits & RECORD.baselineBit) !== 0; // no baseline left: the peer stopped
    // Views into the records, valid while the batch is written (nothing keeps them after).
    const ip = r.subarray(off + RECORD.ip, off + RECORD.ip + ((bits & RECORD.ipv6Bit) !== 0 ? 16 : 4));
    const port = (r[off + RECORD.port]! << 8) | r[off + RECORD.port + 1]!;
    const p = peers.get(pk);
    if (p === undefined) {
      peers.set(pk, {
        userId, torrentId, peerId: r.subarray(off + RECORD.peerId, off + RECORD.peerId + 20), ip, port, agent, uploaded, downloaded,
        left, active, visible, createdMs: t, updatedMs: t,
      });
    } else {
      // Deltas come in seq order: the last one is the peer's state.
      p.ip = ip;
      p.port = port;
      p.agent = agent;
      p.uploaded = uploaded;
      p.downloaded = downloaded;
      p.left = left;
      p.active = active;
      p.visible = visible;
      if (t > p.updatedMs) p.updatedMs = t;
    }

    const tr = torrents.get(torrentId);
    const balance = deltaUp - deltaDown;
    if (tr === undefined) {
      torrents.set(torrentId, { torrentId, seeders: 0, leechers: 0, timesCompleted: snatch ? 1 : 0, balance, updatedMs: t });
    } else {
      if (snatch) tr.timesCompleted++;
      tr.balance += balance;
      if (t > tr.updatedMs) tr.updatedMs = t;
    }
  }
  return { users, history, peers, torrents, droppedUser, droppedTorrent, noTorrent };
}
