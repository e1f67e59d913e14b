/**
 * Ocelot's `GET /{report_password}/report?get=…` (report.cpp): `prom_stats` (Prometheus text
 * with Ocelot's metric names, so Ocelot's Grafana dashboard keeps working) and `stats` (the plain
 * text status page). The numbers come from privtrak's own metrics where it keeps them
 * (privtrak_requests_total, privtrak_http_connections, the swarm store, privtrak_deltas_pending)
 * and from GazelleStats for Ocelot's error kinds.
 *
 * Where privtrak differs: Ocelot's five write queues (user, torrent, peer, snatch, token) are one
 * here — every pending delta is written to all of those tables in one transaction — so each
 * `ocelot_*_queue` shows the privtrak hook's pending deltas. `ocelot_request_rate` is the rate
 * since the previous report call. Ocelot's byte counters and jemalloc figures have no privtrak
 * counterpart and are left out rather than shown as zero.
 */
import type { Registry } from 'prom-client';
import type { PeerStore } from '../../storage/peer-store.js';
import { packageVersion } from '../../metrics/build-info.js';
import type { GazelleState } from './state.js';
import type { GazelleStats } from './stats.js';

interface Sample {
  readonly requests: number;
  readonly announces: number;
  readonly succAnnounces: number;
  readonly scrapes: number;
  readonly openConnections: number;
  readonly seeders: number;
  readonly leechers: number;
  readonly pending: number;
}

type MetricValues = { values: Array<{ labels: Record<string, string | number>; value: number }> };

async function valuesOf(registry: Registry, name: string): Promise<MetricValues['values']> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return [];
  return ((await m.get()) as MetricValues).values;
}

export class GazelleReport {
  private last: { atMs: number; requests: number } | undefined;
  private readonly version = packageVersion();

  constructor(
    private readonly registry: Registry,
    private readonly store: PeerStore,
    private readonly state: GazelleState,
    private readonly stats: GazelleStats,
  ) {}

  private async sample(): Promise<Sample> {
    let requests = 0, announces = 0, succAnnounces = 0, scrapes = 0;
    for (const v of await valuesOf(this.registry, 'privtrak_requests_total')) {
      requests += v.value;
      if (v.labels['action'] === 'announce') {
        announces += v.value;
        if (v.labels['outcome'] === 'ok') succAnnounces += v.value;
      } else if (v.labels['action'] === 'scrape') {
        scrapes += v.value;
      }
    }
    const open = (await valuesOf(this.registry, 'privtrak_http_connections'))[0]?.value ?? 0;
    const pending = (await valuesOf(this.registry, 'privtrak_deltas_pending'))[0]?.value ?? 0;
    const swarm = await this.store.stats();
    return { requests, announces, succAnnounces, scrapes, openConnections: open, seeders: swarm.seeders, leechers: swarm.leechers, pending };
  }

  /** Requests per second since the previous call (0 on the first). */
  private rate(requests: number): number {
    const now = Date.now();
    const prev = this.last;
    this.last = { atMs: now, requests };
    if (prev === undefined || now <= prev.atMs) return 0;
    return Math.round(((requests - prev.requests) * 1000) / (now - prev.atMs));
  }

  private uptimeS(): number {
    return Math.floor((Date.now() - this.stats.startMs) / 1000);
  }

  private interval(defaultS: number): number {
    return this.state.announceIntervalS ?? defaultS;
  }

  async promStats(defaultIntervalS: number): Promise<string> {
    const s = await this.sample();
    const ru = process.resourceUsage();
    const st = this.stats;
    const lines: Array<[string, 'counter' | 'gauge', Array<[string, number]>]> = [
      ['ocelot_uptime', 'gauge', [['', this.uptimeS()]]],
      ['ocelot_open_connections', 'gauge', [['', s.openConnections]]],
      ['ocelot_requests', 'counter', [['', s.requests]]],
      ['ocelot_request_rate', 'gauge', [['', this.rate(s.requests)]]],
      ['ocelot_succ_announcements', 'counter', [['', s.succAnnounces]]],
      ['ocelot_total_announcements', 'counter', [['', s.announces]]],
      ['ocelot_scrapes', 'counter', [['', s.scrapes]]],
      ['ocelot_leechers', 'gauge', [['', s.leechers]]],
      ['ocelot_seeders', 'gauge', [['', s.seeders]]],
      ['ocelot_user_queue', 'gauge', [['', s.pending]]],
      ['ocelot_torrent_queue', 'gauge', [['', s.pending]]],
      ['ocelot_peer_queue', 'gauge', [['', s.pending]]],
      ['ocelot_snatch_queue', 'gauge', [['', s.pending]]],
      ['ocelot_token_queue', 'gauge', [['', s.pending]]],
      ['ocelot_error', 'counter', [
        ['{kind="secret"}', st.secretErrors], ['{kind="report"}', st.reportErrors],
        ['{kind="announce"}', st.announceKeyErrors], ['{kind="client"}', st.clientErrors],
      ]],
      ['ocelot_announce_interval', 'gauge', [['', this.interval(defaultIntervalS)]]],
      ['ocelot_announce_jitter', 'gauge', [['', this.state.announceJitterS]]],
      ['ocelot_time_user', 'counter', [['', ru.userCPUTime / 1e6]]],
      ['ocelot_time_system', 'counter', [['', ru.systemCPUTime / 1e6]]],
      ['ocelot_max_rss', 'gauge', [['', ru.maxRSS]]],
      ['ocelot_minor_fault', 'counter', [['', ru.minorPageFault]]],
      ['ocelot_major_fault', 'counter', [['', ru.majorPageFault]]],
      ['ocelot_block', 'counter', [['{op="in"}', ru.fsRead], ['{op="out"}', ru.fsWrite]]],
      ['ocelot_nvcsw', 'counter', [['', ru.voluntaryContextSwitches]]],
      ['ocelot_nivcsw', 'counter', [['', ru.involuntaryContextSwitches]]],
    ];
    let out = '';
    for (const [name, type, samples] of lines) {
      out += `# TYPE ${name} ${type}\n`;
      for (const [labels, value] of samples) out += `${name}${labels} ${value}\n`;
    }
    return out;
  }

  async plainStats(defaultIntervalS: number): Promise<string> {
    const s = await this.sample();
    let up = this.uptimeS();
    const d = Math.floor(up / 86400);
    up -= d * 86400;
    const two = (n: number) => String(n).padStart(2, '0');
    const hms = `${two(Math.floor(up / 3600))}:${two(Math.floor((up % 3600) / 60))}:${two(up % 60)}`;
    return [
      `Uptime: ${d} days, ${hms}`,
      `version: privtrak ${this.version}`,
      `${s.openConnections} open connections`,
      `${s.requests} requests handled`,
      `${this.rate(s.requests)} requests/s`,
      `${s.succAnnounces} successful announcements`,
      `${s.announces - s.succAnnounces} failed announcements`,
      `${s.scrapes} scrapes`,
      `${s.leechers} leechers tracked`,
      `${s.seeders} seeders tracked`,
      `${s.pending} items in user queue`,
      `${s.pending} items in torrent queue`,
      `${s.pending} items in peer queue`,
      `${s.pending} items in snatch queue`,
      `${s.pending} items in token queue`,
      `${this.state.userCount} users`,
      `${this.state.torrentCount} torrents`,
      `${this.interval(defaultIntervalS)} announce interval`,
      `${this.state.announceJitterS} announce jitter`,
      '',
    ].join('\n');
  }
}
