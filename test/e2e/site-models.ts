/**
 * What the sites' own announce servers would have written for a sequence of served announces,
 * computed from the documented semantics (../shared/sites/README.md A.2/A.3 for UNIT3D-Announce,
 * B.2 for Ocelot) and nothing of privtrak's: the expectation the site scenario tests compare the
 * tables with, row by row.
 *
 * Where privtrak deliberately differs, the model says so and follows privtrak's documented rule:
 * seed time is the exact seeding seconds (UNIT3D: a time-window estimate in SQL; Ocelot: none),
 * so the tests compare it within a second per announce (the proxy's clock is not privtrak's).
 */

export interface ModelAnnounce {
  readonly userId: number;
  readonly torrentId: number;
  readonly peerIdHex: string;
  readonly ip: string;
  readonly port: number;
  readonly agent: string;
  readonly uploaded: number;
  readonly downloaded: number;
  readonly left: number;
  readonly event: 'started' | 'completed' | 'stopped' | 'none';
  readonly timeMs: number;
}

interface PeerState {
  uploaded: number;
  downloaded: number;
  left: number;
  timeMs: number;
}

/** A peer's raw deltas and seeding seconds for each announce, as both servers compute them (A.3). */
function walk(announces: readonly ModelAnnounce[], maxGapMs: number,
  onAnnounce: (a: ModelAnnounce, prev: PeerState | undefined, up: number, down: number, seedSeconds: number, seconds: number) => void): void {
  const peers = new Map<string, PeerState>();
  for (const a of announces) {
    const key = `${a.userId}/${a.torrentId}/${a.peerIdHex}`;
    const prev = peers.get(key);
    // A new peer contributes 0 (A.3); a counter below the stored one (a new session) contributes 0.
    const up = prev === undefined || a.uploaded < prev.uploaded ? 0 : a.uploaded - prev.uploaded;
    const down = prev === undefined || a.downloaded < prev.downloaded ? 0 : a.downloaded - prev.downloaded;
    // privtrak's rule: the seconds since the peer's previous announce, capped at twice the announce
    // interval (a client silent for a day did not seed for a day as far as a tracker can tell).
    const seconds = prev === undefined ? 0 : Math.floor(Math.min(Math.max(a.timeMs - prev.timeMs, 0), maxGapMs) / 1000);
    onAnnounce(a, prev, up, down, prev !== undefined && prev.left === 0 ? seconds : 0, seconds);
    if (a.event === 'stopped') peers.delete(key);
    else peers.set(key, { uploaded: a.uploaded, downloaded: a.downloaded, left: a.left, timeMs: a.timeMs });
  }
}

export interface Unit3dExpectation {
  /** users.uploaded/downloaded growth per user ID. */
  users: Map<number, { uploaded: number; downloaded: number }>;
  history: Map<string, {
    uploaded: number; actualUploaded: number; clientUploaded: number;
    downloaded: number; actualDownloaded: number; clientDownloaded: number;
    seeder: boolean; active: boolean; seedtime: number; completed: boolean; agent: string; announces: number;
  }>;
  /** Keyed "user/torrent/peer_id hex". */
  peers: Map<string, { ip: string; port: number; agent: string; uploaded: number; downloaded: number; left: number; seeder: boolean; active: boolean }>;
  /** Growth of the counters per torrent ID. */
  torrents: Map<number, { seeders: number; leechers: number; timesCompleted: number; balance: number }>;
}

/** UNIT3D-Announce's writes (A.2) for `announces`, with upload/download factors in percent per (user, torrent). */
export function unit3dExpectation(announces: readonly ModelAnnounce[], maxGapMs: number,
  factor: (a: ModelAnnounce) => { up: number; down: number } = () => ({ up: 100, down: 100 })): Unit3dExpectation {
  const e: Unit3dExpectation = { users: new Map(), history: new Map(), peers: new Map(), torrents: new Map() };
  const activePeers = new Map<string, Set<string>>();
  walk(announces, maxGapMs, (a, prev, up, down, seedSeconds) => {
    const f = factor(a);
    const u = e.users.get(a.userId) ?? { uploaded: 0, downloaded: 0 };
    u.uploaded += Math.floor((f.up * up) / 100);
    u.downloaded += Math.floor((f.down * down) / 100);
    e.users.set(a.userId, u);

    const hk = `${a.userId}/${a.torrentId}`;
    const active = activePeers.get(hk) ?? new Set<string>();
    if (a.event === 'stopped') active.delete(a.peerIdHex);
    else active.add(a.peerIdHex);
    activePeers.set(hk, active);
    const h = e.history.get(hk) ?? { uploaded: 0, actualUploaded: 0, clientUploaded: 0, downloaded: 0, actualDownloaded: 0, clientDownloaded: 0, seeder: false, active: false, seedtime: 0, completed: false, agent: '', announces: 0 };
    h.uploaded += Math.floor((f.up * up) / 100);
    h.actualUploaded += up;
    h.clientUploaded = a.uploaded;
    h.downloaded += Math.floor((f.down * down) / 100);
    h.actualDownloaded += down;
    h.clientDownloaded = a.downloaded;
    h.seeder = a.left === 0;
    // Still active while another of the user's peers on the torrent is (Roardom/UNIT3D-Announce#17).
    h.active = active.size > 0;
    h.seedtime += seedSeconds;
    // privtrak's snatch: `completed`, or a known leecher now reporting left = 0 (aria2 told to stop at
    // once sends `stopped` with left = 0 and no `completed`); UNIT3D-Announce sets completed_at on `completed`.
    h.completed ||= a.event === 'completed' || (prev !== undefined && prev.left > 0 && a.left === 0);
    h.agent = a.agent;
    h.announces++;
    e.history.set(hk, h);

    e.peers.set(`${hk}/${a.peerIdHex}`, {
      ip: a.ip, port: a.port, agent: a.agent, uploaded: a.uploaded, downloaded: a.downloaded, left: a.left, seeder: a.left === 0, active: a.event !== 'stopped',
    });

    const t = e.torrents.get(a.torrentId) ?? { seeders: 0, leechers: 0, timesCompleted: 0, balance: 0 };
    // Counters move with each peer's transition; a known leecher becoming a seeder completes it (A.2).
    if (prev !== undefined) {
      if (prev.left === 0) t.seeders--;
      else t.leechers--;
    }
    if (a.event !== 'stopped') {
      if (a.left === 0) t.seeders++;
      else t.leechers++;
    }
    if (prev !== undefined && prev.left > 0 && a.left === 0) t.timesCompleted++;
    t.balance += up - down;
    e.torrents.set(a.torrentId, t);
  });
  return e;
}

export interface GazelleExpectation {
  users: Map<number, { uploaded: number; downloaded: number }>;
  /** Keyed "peer_id hex/fid/uid". */
  files: Map<string, { active: boolean; uploaded: number; downloaded: number; remaining: number; announced: number; timespent: number; useragent: string; ip: string; completed: boolean }>;
  /** Absolute per torrent ID once the announces are done; Snatched and Balance as growth. */
  torrents: Map<number, { seeders: number; leechers: number; snatched: number; balance: number }>;
  /** (uid, fid, IP) per completed announce. */
  snatches: Array<{ uid: number; fid: number; ip: string }>;
  /** users_freeleeches.Downloaded growth per "uid/fid" (token holders). */
  tokens: Map<string, number>;
}

/** Ocelot's writes (B.2) for `announces`; `free` gives a torrent's FreeTorrent ('0' | '1' | '2'), `token` whether the user holds one. */
export function gazelleExpectation(announces: readonly ModelAnnounce[], maxGapMs: number, free: (torrentId: number) => '0' | '1' | '2' = () => '0', token: (userId: number, torrentId: number) => boolean = () => false): GazelleExpectation {
  const e: GazelleExpectation = { users: new Map(), files: new Map(), torrents: new Map(), snatches: [], tokens: new Map() };
  const live = new Map<number, Map<string, boolean>>();
  walk(announces, maxGapMs, (a, prev, up, down, _seedSeconds, seconds) => {
    const ft = free(a.torrentId);
    // Ocelot snatches on `completed`; privtrak also when a known leecher reports left = 0 without it
    // (aria2 stopping at once after its download), which Ocelot would miss.
    const snatch = a.event === 'completed' || (prev !== undefined && prev.left > 0 && a.left === 0);
    const hasToken = token(a.userId, a.torrentId);
    // Neutral zeroes both; free or a token zeroes the download (B.2).
    const credUp = ft === '2' ? 0 : up;
    const credDown = ft === '2' || ft === '1' || hasToken ? 0 : down;
    const u = e.users.get(a.userId) ?? { uploaded: 0, downloaded: 0 };
    u.uploaded += credUp;
    u.downloaded += credDown;
    e.users.set(a.userId, u);
    if (hasToken && down > 0) e.tokens.set(`${a.userId}/${a.torrentId}`, (e.tokens.get(`${a.userId}/${a.torrentId}`) ?? 0) + down);

    const fk = `${a.peerIdHex}/${a.torrentId}/${a.userId}`;
    const f = e.files.get(fk);
    e.files.set(fk, {
      active: a.event !== 'stopped', uploaded: a.uploaded, downloaded: a.downloaded, remaining: a.left,
      announced: (f?.announced ?? 0) + 1,
      // Ocelot: now − first announce; privtrak adds the seconds between announces (capped as above):
      // the same for one session of a client that announces at least every two intervals.
      timespent: (f?.timespent ?? 0) + seconds,
      useragent: a.agent.slice(0, 51), ip: a.ip, completed: (f?.completed ?? false) || snatch,
    });

    const swarm = live.get(a.torrentId) ?? new Map<string, boolean>();
    if (a.event === 'stopped') swarm.delete(fk);
    else swarm.set(fk, a.left === 0);
    live.set(a.torrentId, swarm);
    const t = e.torrents.get(a.torrentId) ?? { seeders: 0, leechers: 0, snatched: 0, balance: 0 };
    t.seeders = [...swarm.values()].filter(Boolean).length;
    t.leechers = swarm.size - t.seeders;
    if (snatch) {
      t.snatched++;
      e.snatches.push({ uid: a.userId, fid: a.torrentId, ip: a.ip });
    }
    t.balance += up - down;
    e.torrents.set(a.torrentId, t);
  });
  return e;
}
