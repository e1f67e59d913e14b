// The status page's script (served by privtrak, see ../status-page.ts). Plain JavaScript, no
// build step and no library: trackers run on closed networks, and an operator must be able to
// read what runs in their browser. It polls /status.json every 2 s, keeps the last few minutes
// client-side (the server keeps no history), turns cumulative counters into rates and histogram
// buckets into percentiles between two polls, and draws line charts on <canvas>.
'use strict';

const POLL_MS = 2000;
/** Samples kept: 150 × 2 s = 5 minutes. */
const HISTORY = 150;
/** The narrowest time axis, in samples (30 s). */
const MIN_SPAN = 15;
const COLORS = ['#2f6fdf', '#e0542e', '#2a9d5b', '#a04fd0', '#d9a21b', '#1aa3b8', '#7b8494', '#d03f8c'];

/** One chart's series: name → values (one per sample, null for a gap), all aligned with `times`. */
const history = { times: [], charts: {} };
let previous = null;

function push(chart, name, value) {
  const series = (history.charts[chart] ??= new Map());
  let values = series.get(name);
  if (values === undefined) {
    // A series seen for the first time has no values before now.
    values = new Array(history.times.length - 1).fill(null);
    series.set(name, values);
  }
  values.push(value === undefined || value === null || !Number.isFinite(value) ? null : value);
}

/** Ends a sample: every series gets a value (a gap where none was pushed), then old samples go. */
function seal() {
  for (const series of Object.values(history.charts)) {
    for (const values of series.values()) {
      while (values.length < history.times.length) values.push(null);
      while (values.length > HISTORY) values.shift();
    }
  }
  while (history.times.length > HISTORY) history.times.shift();
}

function rate(now, before, dt) {
  // A counter that went down restarted (a worker replaced): no rate for this interval.
  return before === undefined || now < before ? null : (now - before) / dt;
}

/** Quantile q of the observations between two cumulative histograms (linear within a bucket, as Prometheus does). */
function quantile(q, now, before) {
  const counts = now.counts.map((c, i) => c - (before?.counts[i] ?? 0));
  const total = counts[counts.length - 1];
  if (!(total > 0) || counts.some((c) => c < 0)) return null;
  const rank = q * total;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] >= rank) {
      if (i >= now.le.length) return now.le[now.le.length - 1];
      const lower = i === 0 ? 0 : now.le[i - 1];
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      return lower + (now.le[i] - lower) * (inBucket === 0 ? 1 : (rank - below) / inBucket);
    }
  }
  return null;
}

const byKey = (rows, key) => new Map(rows.map((r) => [key(r), r]));
const mib = (b) => (b === null ? null : b / 1048576);
const ms = (s) => (s === null ? null : s * 1000);

function record(s) {
  history.times.push(s.at);
  const p = previous;
  const dt = p === null ? 0 : (s.at - p.at) / 1000;
  if (p !== null && dt > 0) {
    const before = byKey(p.requests, (r) => `${r.frontend} ${r.action} ${r.outcome}`);
    for (const r of s.requests) {
      const chart = r.action === 'announce' ? 'announces' : r.action === 'scrape' ? 'scrapes' : undefined;
      if (chart !== undefined) push(chart, `${r.frontend} ${r.outcome}`, rate(r.total, before.get(`${r.frontend} ${r.action} ${r.outcome}`)?.total, dt));
    }
    const refusedBefore = byKey(p.refusals, (r) => `${r.kind} ${r.reason}`);
    for (const r of s.refusals) push('refusals', `${r.kind}: ${r.reason}`, rate(r.total, refusedBefore.get(`${r.kind} ${r.reason}`)?.total, dt));
    const latencyBefore = byKey(p.latency, (l) => `${l.frontend} ${l.action}`);
    for (const l of s.latency) {
      const b = latencyBefore.get(`${l.frontend} ${l.action}`);
      for (const q of [0.5, 0.99]) push('latency', `${l.frontend} ${l.action} p${q * 100}`, ms(quantile(q, l, b)));
    }
    if (s.flush !== null) {
      push('flush', 'p50', ms(quantile(0.5, s.flush, p.flush ?? undefined)));
      push('flush', 'p99', ms(quantile(0.99, s.flush, p.flush ?? undefined)));
    }
  }
  if (s.deltas !== null) {
    push('pending', 'pending deltas', s.deltas.pending);
    push('lag', 'oldest pending (s)', s.deltas.oldest_pending_seconds);
    if (s.deltas.drain_backlog !== null) push('lag', 'stream backlog', s.deltas.drain_backlog);
  }
  for (const r of s.registry) push('registry', r.source, r.age_seconds);
  push('swarms', 'swarms', s.swarms.swarms);
  push('swarms', 'seeders', s.swarms.seeders);
  push('swarms', 'leechers', s.swarms.leechers);
  push('memory', 'RSS', mib(s.memory.rss_bytes));
  push('memory', 'heap used', mib(s.memory.heap_used_bytes));
  push('eventloop', 'p50', ms(s.event_loop.p50_seconds));
  push('eventloop', 'p99', ms(s.event_loop.p99_seconds));
  push('eventloop', 'max', ms(s.event_loop.max_seconds));
  seal();
  previous = s;
}

/** A readable axis maximum: 1, 2 or 5 times a power of ten, at least the largest value. */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function label(v) {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toPrecision(3)}`;
}

/**
 * Draws one line chart. Hand-written (about 60 lines) instead of a charting library: nothing to
 * download or vendor, and the page stays small enough to read. The canvas records what it drew
 * in data-points (finite points plotted), data-series (series with at least one point),
 * data-longest (most points in one series), data-max (the largest value plotted) and
 * data-plot-top (where the plot starts below the legend), which the browser test reads.
 */
function draw(canvas, series) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = '11px system-ui, sans-serif';
  const names = [...series.keys()].sort((a, b) => a.localeCompare(b));
  // The legend first, wrapped into rows: the plot starts below it.
  const legend = [];
  let lx = 44, row = 0;
  for (const name of names) {
    const width = 20 + g.measureText(name).width;
    if (lx + width > w && lx > 44) { lx = 44; row++; }
    legend.push({ name, x: lx, y: 6 + row * 15 });
    lx += width;
  }
  const left = 44, right = 8, top = 22 + row * 15, bottom = 16;
  const plotW = w - left - right, plotH = h - top - bottom;
  let largest = 0;
  for (const values of series.values()) for (const v of values) if (v !== null && v > largest) largest = v;
  // Headroom above the largest value: a line along the top edge would be hard to see.
  const max = niceMax(largest * 1.1);
  g.strokeStyle = '#e3e6ec';
  g.fillStyle = '#5b6475';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + plotH - (plotH * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(left + plotW, y); g.stroke();
    g.fillText(label((max * i) / 4), 4, y + 4);
  }
  const n = history.times.length;
  if (n > 1) g.fillText(`last ${Math.round((history.times[n - 1] - history.times[0]) / 1000)} s`, left, h - 3);
  // The time axis spans at least a minute and grows to the whole history: newest sample on the
  // right edge, so the first polls draw readable segments rather than a few pixels.
  const span = Math.min(HISTORY, Math.max(MIN_SPAN, n));
  const x = (i) => left + (plotW * (i + span - n)) / (span - 1);
  const y = (v) => top + plotH - (plotH * v) / max;
  let points = 0, drawn = 0, longest = 0;
  names.forEach((name, k) => {
    const values = series.get(name);
    g.strokeStyle = g.fillStyle = COLORS[k % COLORS.length];
    g.lineWidth = 1.6;
    g.beginPath();
    let pen = false, seriesPoints = 0;
    values.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      if (pen) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
      // A lone point between gaps would draw nothing: a short tick shows it.
      if (!pen && (values[i + 1] ?? null) === null) g.lineTo(x(i) + 2, y(v));
      pen = true;
      seriesPoints++;
    });
    g.stroke();
    points += seriesPoints;
    longest = Math.max(longest, seriesPoints);
    if (seriesPoints > 0) drawn++;
    g.fillRect(legend[k].x, legend[k].y, 10, 10);
    g.fillStyle = '#1d2330';
    g.fillText(name, legend[k].x + 13, legend[k].y + 9);
  });
  if (drawn === 0) {
    g.fillStyle = '#7b8494';
    g.fillText(n > 1 ? 'nothing to show yet' : 'waiting for data…', left + 8, top + plotH / 2);
  }
  canvas.dataset.points = String(points);
  canvas.dataset.series = String(drawn);
  canvas.dataset.longest = String(longest);
  canvas.dataset.max = String(largest);
  canvas.dataset.plotTop = String(top);
}

function render(s) {
  for (const canvas of document.querySelectorAll('canvas[data-chart]')) draw(canvas, history.charts[canvas.dataset.chart] ?? new Map());
  const total = s.requests.reduce((a, r) => a + r.total, 0);
  document.getElementById('summary').textContent =
    `version ${s.version ?? '?'} · ${s.mode} · ${total} requests · ${s.swarms.swarms} swarms · updated ${new Date(s.at).toLocaleTimeString()}`;
  const body = document.querySelector('#instances tbody');
  body.replaceChildren(...s.instances.map((i) => {
    const tr = document.createElement('tr');
    const cells = [i.instance, i.requests_total, mib(i.rss_bytes)?.toFixed(1), ms(i.event_loop_p99_seconds)?.toFixed(1), i.deltas_pending,
      i.drain_lease_held === null ? null : i.drain_lease_held > 0 ? 'held' : 'not held', i.drain_deltas_total, i.drain_failures_total, i.drain_fenced_total];
    for (const c of cells) {
      const td = document.createElement('td');
      td.textContent = c === null || c === undefined ? '–' : String(c);
      tr.append(td);
    }
    return tr;
  }));
  document.getElementById('mode').textContent = s.mode === 'single process'
    ? 'Single process: no other instance shares this tracker\'s state.'
    : s.mode === 'workers' ? 'serve --workers: one row per worker process (the primary merges their metrics).'
      : 'Shared mode: the drain lease says which instance applies the delta streams to the sink; other instances show theirs on their own status page.';
  document.getElementById('config').textContent = JSON.stringify(s.config, null, 2);
  // The limits as text: drawn as lines they would flatten the values to nothing most of the time.
  const perProcess = s.mode === 'workers' ? ' per worker' : '';
  document.getElementById('pending-limit').textContent = s.deltas?.pending_limit == null ? '' : ` · max_pending ${s.deltas.pending_limit}${perProcess}`;
  document.getElementById('backlog-limit').textContent = s.deltas?.drain_backlog_limit == null ? '' : ` · bound ${s.deltas.drain_backlog_limit}`;
}

async function poll() {
  const error = document.getElementById('error');
  try {
    const res = await fetch('status.json', { cache: 'no-store', credentials: 'same-origin' });
    if (res.status === 401) { window.location.reload(); return; }
    if (!res.ok) throw new Error(`status.json: HTTP ${res.status}`);
    const s = await res.json();
    record(s);
    render(s);
    error.hidden = true;
  } catch (err) {
    error.textContent = String(err.message ?? err);
    error.hidden = false;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

window.addEventListener('resize', () => { if (previous !== null) render(previous); });
poll();
