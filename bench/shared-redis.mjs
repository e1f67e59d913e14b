// Memory mode against the shared mode on Redis, side by side in one run (issue 13, point 6).
// Three trackers in turn under the same wrk load (keep-alive, the private chain as it ships: the
// privtrak hook with its SQLite sink, open mode with 1,000 passkeys): `memory` (one process, the
// journal), `redis --workers 1` and `redis --workers 2` (the shared store and accounting on a private
// redis-server this script starts on a free loopback port, AOF off, so the figures are Redis's own
// work, not the disk's). Reported per mode: announces/s served, and CPU per announce of the tracker
// processes (all of them, primary included) and of Redis, each apart, read from /proc and from
// Redis's INFO, so the figures carry to a machine with more cores. Then the ratios the issue asks:
// Redis path CPU / memory path CPU (target ≤ 2), Redis CPU per announce (target ≤ 10 µs), and
// 2 workers / 1 worker throughput on this machine.
//
// usage: node bench/shared-redis.mjs [--seconds 20] [--conns 64] [--modes memory,redis1,redis2] [--rounds 1]
// TRACKER_NODE_ARGS (node options of the tracker), TRACKER_CORES (default 0; 0,1 for two workers), WRK_CORE (default 1), REDIS_CORE (default: unpinned).
// Needs wrk, taskset and redis-server; build first (npx tsc -p tsconfig.json). Bounded: SECONDS of load per mode and round.
import { parseArgs } from 'node:util';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, connect } from 'node:net';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    conns: { type: 'string', default: '64' },
    modes: { type: 'string', default: 'memory,redis1,redis2' },
    rounds: { type: 'string', default: '1' },
    torrents: { type: 'string', default: '1000' },
    peers: { type: 'string', default: '100000' },
    users: { type: 'string', default: '1000' },
    // Above what a run appends: with the store's default (200,000) the SQLite drainer falls behind
    // within seconds, a fifth of the announces are refused busy at the stream bound, and the
    // figures per ok announce include the refused ones' work (the sink's speed, not the store's).
    'max-stream-entries': { type: 'string', default: '200000' },
  },
});
const SECONDS = Math.min(Number(args.seconds), 120);
const ROUNDS = Math.min(Number(args.rounds), 5);
const log = (...a) => console.error(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function freePort() {
  return new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/** The tracker's processes: the spawned one and its children (the workers of --workers N). */
function trackerPids(root) {
  let kids = [];
  try { kids = execFileSync('pgrep', ['-P', String(root)]).toString().trim().split('\n').filter(Boolean).map(Number); } catch { /* none */ }
  return [root, ...kids];
}

/** One RESP command to the private Redis, reply as text (enough for INFO and PING). */
function redisCommand(port, ...words) {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf = '';
    s.on('data', (c) => {
      buf += c;
      const m = /^\$(\d+)\r\n/.exec(buf);
      if ((m && buf.length >= m[0].length + Number(m[1]) + 2) || /^[+\-:].*\r\n/.test(buf)) { s.end(); resolve(m ? buf.slice(m[0].length, m[0].length + Number(m[1])) : buf.trim()); }
    });
    s.on('error', reject);
    s.write(`*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`);
  });
}

async function redisCpu(port) {
  const info = await redisCommand(port, 'INFO', 'cpu');
  const get = (k) => Number(new RegExp(`^${k}:(\\S+)`, 'm').exec(info)?.[1] ?? 0);
  return get('used_cpu_sys') + get('used_cpu_user') + get('used_cpu_sys_children') + get('used_cpu_user_children');
}

const dir = mkdtempSync(join(tmpdir(), 'privtrak-shared-bench-'));
const redisPort = await freePort();
const redis = spawn('taskset', ['-c', process.env['REDIS_CORE'] ?? '0-1023', 'redis-server', '--port', String(redisPort), '--bind', '127.0.0.1',
  '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
const results = [];
try {
  for (let i = 0; ; i++) {
    try { if ((await redisCommand(redisPort, 'PING')) === '+PONG') break; } catch { /* starting */ }
    if (i > 100) throw new Error('redis-server did not start');
    await sleep(100);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of args.modes.split(',')) results.push(await runMode(mode, round));
  }
  const by = (m) => results.filter((r) => r.mode === m);
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]; };
  console.log(`\n${SECONDS} s of wrk -c${args.conns} keep-alive per mode and round, ${args.torrents} torrents, ${args.peers} peers, ${args.users} passkeys, ${ROUNDS} round(s); medians:`);
  console.log('| mode | announces/s | tracker CPU µs/announce | Redis CPU µs/announce | Redis fcall µs/call | announces/call | latency avg ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const rows = {};
  for (const m of args.modes.split(',')) {
    const rs = by(m);
    rows[m] = { rate: median(rs.map((r) => r.rate)), tracker: median(rs.map((r) => r.trackerUs)), redis: median(rs.map((r) => r.redisUs)), fcall: median(rs.map((r) => r.fcallUs)), batch: median(rs.map((r) => r.batch)), latency: median(rs.map((r) => r.latencyMs)) };
    const r = rows[m];
    console.log(`| ${m} | ${Math.round(r.rate).toLocaleString('en-US')} | ${r.tracker.toFixed(1)} | ${m === 'memory' ? '—' : r.redis.toFixed(1)} | ${m === 'memory' ? '—' : r.fcall.toFixed(1)} | ${m === 'memory' ? '—' : r.batch.toFixed(1)} | ${r.latency.toFixed(2)} |`);
  }
  if (rows.memory && rows.redis1) {
    console.log(`Redis path CPU per announce (tracker + Redis) / memory path: ${((rows.redis1.tracker + rows.redis1.redis) / rows.memory.tracker).toFixed(2)}× (target ≤ 2); tracker alone ${(rows.redis1.tracker / rows.memory.tracker).toFixed(2)}×`);
    console.log(`Redis CPU per announce: ${rows.redis1.redis.toFixed(1)} µs (target ≤ 10 µs: ≥ ${Math.round(1e6 / rows.redis1.redis).toLocaleString('en-US')} announces/s per Redis core)`);
  }
  if (rows.redis1 && rows.redis2) console.log(`2 workers / 1 worker: ${(rows.redis2.rate / rows.redis1.rate).toFixed(2)}× throughput on this ${execFileSync('nproc').toString().trim()}-core machine (wrk shares the cores)`);
} finally {
  redis.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

async function runMode(mode, round) {
  const port = await freePort();
  const metricsPort = await freePort();
  const workDir = mkdtempSync(join(dir, `${mode}-`));
  const shared = mode !== 'memory';
  const workers = mode === 'redis2' ? 2 : 1;
  const storage = shared
    ? { name: 'redis', config: { url: `redis://127.0.0.1:${redisPort}/0`, key_prefix: `bench${round}${mode}:`, max_stream_entries: Number(args['max-stream-entries']) } }
    : { name: 'memory' };
  const configPath = join(workDir, 'config.yaml');
  writeFileSync(configPath, JSON.stringify({
    log_level: 'warn', metrics_addr: `127.0.0.1:${metricsPort}`, user_key_secret: join(workDir, 'secret'),
    http: { addr: `127.0.0.1:${port}`, keep_alive: true }, udp: { addr: '' }, storage,
    prehooks: [{ name: 'privtrak', options: { journal_dir: join(workDir, 'journal'), sink: { name: 'sqlite', path: join(workDir, 'stats.db') } } }],
  }));
  const cores = process.env['TRACKER_CORES'] ?? (workers > 1 ? '0,1' : '0');
  // TRACKER_NODE_ARGS: node options for the tracker, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (bench/cpuprofile-top.mjs).
  const nodeArgs = (process.env['TRACKER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const tracker = spawn('taskset', ['-c', cores, process.execPath, ...nodeArgs, join(ROOT, 'dist/src/cli/main.js'), 'serve', '--config', configPath, '--workers', String(workers)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  tracker.stdout.on('data', (c) => { out += c; });
  tracker.stderr.on('data', (c) => { out += c; });
  const metric = async (name, match = '') => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name}${match ? `\\{[^}]*${match}[^}]*\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  };
  try {
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/${'0'.repeat(32)}/announce?info_hash=${'%00'.repeat(20)}&peer_id=${'-BN0001-'.padEnd(20, '0')}&port=1&uploaded=0&downloaded=0&left=0&event=stopped`);
        await r.arrayBuffer();
        await metric('privtrak_requests_total');
        break;
      } catch { if (i > 150 || tracker.exitCode !== null) throw new Error(`tracker (${mode}) did not start:\n${out}`); await sleep(200); }
    }
    const pids = trackerPids(tracker.pid);
    const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
    const redis0 = shared ? await redisCpu(redisPort) : 0;
    const fc0 = shared ? await fcallStats(redisPort) : { calls: 0, usec: 0 };
    const ok0 = await metric('privtrak_requests_total', 'action="announce",outcome="ok"');
    const all0 = await metric('privtrak_requests_total', 'action="announce"');
    const t0 = Date.now();
    const wrkOut = await runWrk(port);
    const secs = (Date.now() - t0) / 1000;
    const ok = (await metric('privtrak_requests_total', 'action="announce",outcome="ok"')) - ok0;
    const notOk = (await metric('privtrak_requests_total', 'action="announce"')) - all0 - ok;
    if (process.env['BENCH_OUTCOMES']) log((await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).split('\n').filter((l) => /announce|refused|busy/.test(l) && !l.startsWith('#')).join('\n'));
    const cpu = pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0;
    const redisUsed = shared ? (await redisCpu(redisPort)) - redis0 : 0;
    const fc = shared ? await fcallStats(redisPort) : { calls: 0, usec: 0 };
    // BENCH_COMMANDSTATS=1: Redis's commands by time so far (FCALL, and the drainer's XRANGE/XTRIM...).
    if (shared && process.env['BENCH_COMMANDSTATS']) {
      const rows = [...(await redisCommand(redisPort, 'INFO', 'commandstats')).matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)];
      log(rows.sort((a, b) => Number(b[3]) - Number(a[3])).slice(0, 8).map((m) => `  ${m[1]}: ${m[2]} calls, ${(Number(m[3]) / ok).toFixed(2)} µs/announce`).join('\n'));
    }
    const r = {
      mode, round, rate: ok / secs, trackerUs: cpu / ok * 1e6, redisUs: redisUsed / Math.max(ok, 1) * 1e6,
      fcallUs: (fc.usec - fc0.usec) / Math.max(fc.calls - fc0.calls, 1),
      // Announces (ok or not) per FCALL: the mean counted batch size (pt_counted_batch; GC and lease calls are few).
      batch: (ok + notOk) / Math.max(fc.calls - fc0.calls, 1),
      latencyMs: wrkLatencyMs(wrkOut),
    };
    log(`${mode} round ${round + 1}: ${Math.round(r.rate)} announces/s (${ok} ok, ${notOk} not), tracker ${r.trackerUs.toFixed(1)} µs CPU/announce over ${pids.length} process(es)${shared ? `, Redis ${r.redisUs.toFixed(1)} µs/announce, fcall ${r.fcallUs.toFixed(1)} µs/call, ${r.batch.toFixed(1)} announces/call` : ''}, wrk latency avg ${r.latencyMs.toFixed(2)} ms`);
    if (!/Requests\/sec/.test(wrkOut)) log(wrkOut);
    return r;
  } finally {
    const exited = new Promise((r) => tracker.once('exit', r));
    tracker.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (tracker.exitCode === null) tracker.kill('SIGKILL');
  }
}

/** wrk's mean latency in ms ("Latency   1.23ms ..."; us and s scaled). */
function wrkLatencyMs(out) {
  const m = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(out);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
}

async function fcallStats(port) {
  const info = await redisCommand(port, 'INFO', 'commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/^cmdstat_(?:fcall|fcall_ro):calls=(\d+),usec=(\d+)/gm)) { calls += Number(m[1]); usec += Number(m[2]); }
  return { calls, usec };
}

function runWrk(port) {
  return new Promise((resolve) => {
    const wrk = spawn('taskset', ['-c', process.env['WRK_CORE'] ?? '1', 'wrk', '-t1', `-c${args.conns}`, `-d${SECONDS}s`, '--timeout', '5s',
      '-s', join(ROOT, 'bench/http-announce.lua'), `http://127.0.0.1:${port}`, '--',
      `IH_POOL=${args.torrents}`, `PEER_POOL=${args.peers}`, 'NUMWANT=50', 'CLOSE=0', `PASSKEY_POOL=${args.users}`, 'FIXED_IH=1', 'COUNTERS=1', 'IH_SPREAD=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    wrk.stdout.on('data', (c) => { o += c; });
    wrk.stderr.on('data', (c) => { o += c; });
    wrk.on('exit', () => resolve(o));
  });
}
