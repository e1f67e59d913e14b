/**
 * contrib/: the Prometheus alert rules pass `promtool check rules` and their unit tests
 * (`promtool test rules`), and every metric name a rule or a Grafana panel reads is exported by a
 * real tracker: one in memory mode with the private chain (a file registry, user_approval, the
 * privtrak hook, HTTP and UDP announces, a refusal), and one in shared mode on Redis for the
 * privtrak_drain_* names only it registers. `up` is Prometheus's own (a scrape target's health).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { Redis } from 'ioredis';
import { Tracker } from '../../src/tracker.js';
import { validateConfig } from '../../src/config/load.js';
import { escapeBytes, get } from '../support/http-client.js';
import { UdpClient } from '../support/udp-client.js';
import { ROOT } from '../support/tracker-process.js';
import { deletePrefix, freshPrefix, redisUrlOrSkip } from '../support/redis.js';
import { dashboardExpressions, metricNames, scrapedNames } from '../support/promql-names.js';

const RULES = join(ROOT, 'contrib', 'prometheus', 'privtrak-alerts.yml');
const RULE_TESTS = join(ROOT, 'contrib', 'prometheus', 'privtrak-alerts.test.yml');
const DASHBOARD = join(ROOT, 'contrib', 'grafana', 'privtrak-dashboard.json');
/** Series Prometheus makes itself for each target, not exported by the tracker. */
const PROMETHEUS_OWN = new Set(['up']);
/** Registered only in shared mode (storage: redis): checked against a shared-mode scrape. */
const sharedOnly = (name: string) => name.startsWith('privtrak_drain_');

const PASSKEY = '0123456789abcdef0123456789abcdef';
const IH = Buffer.alloc(20, 0x5a);

/** Where each metric name is used: rule or panel, by name. */
function usedNames(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const add = (where: string, expr: string) => {
    for (const name of metricNames(expr)) used.set(name, [...(used.get(name) ?? []), where]);
  };
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
  for (const g of rules.groups) for (const r of g.rules) add(`rule ${r.alert ?? r.record}`, r.expr);
  for (const { where, expr } of dashboardExpressions(JSON.parse(readFileSync(DASHBOARD, 'utf8')))) add(where, expr);
  return used;
}

/** The names in `used` (filtered) that `scraped` lacks, with where each is used. */
function missing(used: Map<string, string[]>, scraped: Set<string>, keep: (name: string) => boolean): string[] {
  return [...used].filter(([name]) => keep(name) && !PROMETHEUS_OWN.has(name) && !scraped.has(name))
    .map(([name, where]) => `${name} (${where.join(', ')})`);
}

/** A /metrics scrape (chunked: not for the raw client of http-client.ts, which reads Content-Length). */
async function metrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  return res.text();
}

function promtool(args: string[]): ReturnType<typeof spawnSync> {
  return spawnSync('promtool', args, { cwd: join(ROOT, 'contrib', 'prometheus'), encoding: 'utf8', timeout: 20_000 });
}

describe('contrib/prometheus: promtool', () => {
  const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const absent = found.error !== undefined ? `promtool not found (${found.error.message}; Debian package prometheus)` : undefined;
  const ciNeedsIt = absent !== undefined && process.env['CI'] === 'true';

  it('checks the alert rules', { skip: !ciNeedsIt && absent }, () => {
    assert.equal(absent, undefined, `promtool is required in CI: ${absent}`);
    const r = promtool(['check', 'rules', RULES]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(String(r.stdout), /SUCCESS: \d+ rules found/);
  });

  it('passes the rules\' unit tests (series that fire each alert, series that must not)', { skip: !ciNeedsIt && absent }, () => {
    assert.equal(absent, undefined, `promtool is required in CI: ${absent}`);
    const r = promtool(['test', 'rules', RULE_TESTS]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    // Every alert of the rules file has a test in which it fires.
    const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert?: string }[] }[] };
    const tests = parse(readFileSync(RULE_TESTS, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const fired = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const alerts = rules.groups.flatMap((g) => g.rules.flatMap((x) => (x.alert === undefined ? [] : [x.alert])));
    assert.deepEqual(alerts.filter((a) => !fired.has(a)), [], 'alerts no test fires');
  });
});

describe('contrib/grafana: the dashboard', () => {
  it('takes its data source as ${DS_PROMETHEUS} (an import input and a variable), and no two panels overlap', () => {
    type Panel = { title: string; type: string; datasource?: { uid: string }; targets?: { datasource?: { uid: string } }[]; gridPos: { x: number; y: number; w: number; h: number } };
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      __inputs: { name: string; pluginId: string }[]; templating: { list: { name: string; type: string; datasource?: { uid: string } }[] }; panels: Panel[];
    };
    assert.deepEqual(d.__inputs.map((i) => [i.name, i.pluginId]), [['DS_PROMETHEUS', 'prometheus']]);
    assert.ok(d.templating.list.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource'));
    const uids = [...d.panels.flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]), ...d.templating.list.map((v) => v.datasource)]
      .filter((ds) => ds !== undefined).map((ds) => ds.uid);
    assert.ok(uids.length > 50);
    assert.deepEqual([...new Set(uids)], ['${DS_PROMETHEUS}']);
    const cells = new Map<string, string>();
    for (const p of d.panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title} is wider than the grid`);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          assert.equal(cells.get(`${x},${y}`), undefined, `"${p.title}" overlaps "${cells.get(`${x},${y}`)}"`);
          cells.set(`${x},${y}`, p.title);
        }
      }
    }
  });
});

describe('metric names in PromQL (the extractor the check below relies on)', () => {
  it('finds selectors, bare names and histogram series, and skips functions, keywords, labels, durations and variables', () => {
    assert.deepEqual(metricNames(
      'histogram_quantile(0.99, sum by (le, frontend) (rate(privtrak_request_duration_seconds_bucket{job="$job",action=~"a|b"}[$__rate_interval])))',
    ), ['privtrak_request_duration_seconds_bucket']);
    assert.deepEqual(metricNames('privtrak_deltas_pending / on (instance) group_left(version) privtrak_pending_limit > 0.8'),
      ['privtrak_deltas_pending', 'privtrak_pending_limit']);
    assert.deepEqual(metricNames('absent(up{job="privtrak"} == 1) or max without (worker) (x_total offset 5m) unless bool 1e9 * 4 * 3600'),
      ['up', 'x_total']);
    assert.deepEqual(metricNames('sum(rate(a[5m:1m])) / count(b{l="{not_a_name}"}) and ${DS_PROMETHEUS} + 1e-3'), ['a', 'b']);
  });

  it('catches a made-up name in a dashboard panel', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const scraped = new Set(dashboardExpressions(dashboard).flatMap(({ expr }) => metricNames(expr)));
    const panel = dashboard.panels.find((p) => (p.targets?.length ?? 0) > 0)!;
    panel.targets!.push({ expr: 'sum(rate(privtrak_made_up_total{job="$job"}[$__rate_interval]))' });
    const found = dashboardExpressions(dashboard).flatMap(({ where, expr }) => metricNames(expr).filter((n) => !scraped.has(n)).map((n) => `${n} in ${where}`));
    assert.deepEqual(found, [`privtrak_made_up_total in panel "${panel.title}"`]);
  });

  it('reads a scrape\'s names: samples, and the series of every declared family', () => {
    const names = scrapedNames([
      '# HELP h_seconds x', '# TYPE h_seconds histogram', 'h_seconds_bucket{le="1"} 0',
      '# TYPE c_total counter', '# TYPE g gauge', 'g 1', 'bare{a="b"} 2',
    ].join('\n'));
    assert.deepEqual([...names].sort(), ['bare', 'c_total', 'g', 'h_seconds_bucket', 'h_seconds_count', 'h_seconds_sum']);
  });
});

describe('contrib: every metric name a rule or a panel uses is exported by a real tracker', () => {
  it('memory mode, private chain (registry, user_approval, privtrak hook), after HTTP and UDP announces', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-observability-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const users = join(dir, 'users.csv');
    const torrents = join(dir, 'torrents.csv');
    writeFileSync(users, `passkey,site_id,enabled,can_leech\n${PASSKEY},7,true,true\n`);
    writeFileSync(torrents, 'info_hash,site_id,banned,download_multiplier,upload_multiplier\n');
    const config = validateConfig({
      metrics_addr: '127.0.0.1:0', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '127.0.0.1:0' },
      user_key_secret: join(dir, 'user-key.secret'),
      registry: { source: 'file', users, torrents, poll_interval: '1h' },
      prehooks: [{ name: 'user_approval' }, {
        name: 'privtrak',
        options: { journal_dir: join(dir, 'journal'), flush_interval: '20ms', max_pending: 12345, sink: { name: 'sqlite', path: join(dir, 'privtrak.sqlite') } },
      }],
    });
    // With the process metrics (memory, event loop, GC): the dashboard reads them.
    const tracker = new Tracker(config, pino({ level: 'silent' }));
    await tracker.start();
    const udp = new UdpClient(tracker.port('udp'));
    t.after(async () => {
      udp.close();
      await tracker.stop();
    });
    const peer = escapeBytes(Buffer.from('-qB4520-observabil01'));
    for (const [up, event] of [[0, '&event=started'], [1000, '']] as const) {
      const r = await get(tracker.port('http'), `/${PASSKEY}/announce?info_hash=${escapeBytes(IH)}&peer_id=${peer}&port=6881&uploaded=${up}&downloaded=0&left=10${event}`);
      assert.doesNotMatch(r.body.toString('latin1'), /failure reason/);
    }
    assert.equal((await get(tracker.port('http'), `/${PASSKEY}/scrape?info_hash=${escapeBytes(IH)}`)).status, 200);
    const u = await udp.announce({ infoHash: IH, peerId: Buffer.from('-qB4520-observabil02'), urlData: `/${PASSKEY}/announce`, left: 0, uploaded: 5 });
    assert.equal(u.error, undefined);
    // A refusal (unknown passkey), so the refusal counters have series too.
    const refused = await get(tracker.port('http'), `/${'f'.repeat(32)}/announce?info_hash=${escapeBytes(IH)}&peer_id=${peer}&port=6881&uploaded=0&downloaded=0&left=10`);
    assert.match(refused.body.toString('latin1'), /failure reason/);

    const scrape = await metrics(tracker.port('metrics'));
    const scraped = scrapedNames(scrape);
    // The announces above are in the scrape: the series exist with their labels, not only the families.
    assert.match(scrape, /privtrak_requests_total\{frontend="http",action="announce",outcome="ok"\} 2/);
    assert.match(scrape, /privtrak_requests_total\{frontend="udp",action="announce",outcome="ok"\} 1/);
    assert.match(scrape, /privtrak_pending_limit 12345/);
    assert.match(scrape, /privtrak_journal_disk_free_bytes \d/);

    const used = usedNames();
    assert.ok(used.size > 30, `only ${used.size} names found in the rules and the dashboard`);
    assert.deepEqual(missing(used, scraped, (n) => !sharedOnly(n)), [], 'names not in a memory-mode scrape');
  });

  it('shared mode on Redis: the privtrak_drain_* names', async (t) => {
    const url = await redisUrlOrSkip(t);
    if (url === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'privtrak-observability-shared-'));
    const prefix = freshPrefix();
    const redis = new Redis(url);
    const config = validateConfig({
      metrics_addr: '127.0.0.1:0', log_level: 'silent', http: { addr: '127.0.0.1:0' }, udp: { addr: '' },
      user_key_secret: join(dir, 'user-key.secret'),
      storage: { name: 'redis', config: { url, key_prefix: prefix, groups: 2, max_stream_entries: 4321 } },
      prehooks: [{ name: 'privtrak', options: { flush_interval: '20ms', journal_dir: join(dir, 'journal'), sink: { name: 'sqlite', path: join(dir, 'privtrak.sqlite') } } }],
    });
    const tracker = new Tracker(config, pino({ level: 'silent' }), { defaultMetrics: false });
    t.after(async () => {
      await tracker.stop();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    });
    await tracker.start();
    const r = await get(tracker.port('http'), `/${PASSKEY}/announce?info_hash=${escapeBytes(IH)}&peer_id=${escapeBytes(Buffer.from('-qB4520-observabil03'))}&port=6881&uploaded=0&downloaded=0&left=10&event=started`);
    assert.doesNotMatch(r.body.toString('latin1'), /failure reason/);
    const scrape = await metrics(tracker.port('metrics'));
    assert.match(scrape, /^privtrak_drain_backlog_limit 4321$/m);
    const scraped = scrapedNames(scrape);
    const used = usedNames();
    assert.ok([...used.keys()].filter(sharedOnly).length >= 3, 'the rules and the dashboard read the drain metrics');
    assert.deepEqual(missing(used, scraped, sharedOnly), [], 'names not in a shared-mode scrape');
  });
});
