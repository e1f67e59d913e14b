#!/usr/bin/env bash
# Tail latency at a fixed offered load (issue 14, point 1), in one command. For each mode (HTTP with
# "Connection: close", HTTP keep-alive, UDP):
#   1. a fresh privtrak with the private chain as config.example.yaml ships it, plus the access hooks it
#      documents (user_approval, torrent_approval, the privtrak hook with its SQLite sink) over a file
#      registry of 100,000 users and 100,000 torrents (bench/make-registry.mjs), tracker on core 0;
#   2. its maximum, closed loop (wrk + http-announce.lua, or udp-load), load on core 1: MAX_WARMUP s not
#      counted, then MAX_SECS s measured. The maximum is the rate the tracker kept up: the answered rate
#      less the growth of its pending deltas per second (bench/sustained-max.mjs: a writer that falls
#      behind makes the answered rate overstate what the tracker sustains);
#   3. a second fresh tracker, driven OPEN loop (bench/open-loop.c) at half that maximum for WARMUP s
#      (not counted), then DURATION s measured: latency from each announce's scheduled time, so a stall
#      shows in every announce that was due during it;
#   4. the tracker's /metrics scraped when the warm-up ends and after the run: event-loop delay
#      (prom-client's monitorEventLoopDelay percentiles over the measured run: the scrape resets them)
#      and GC pauses by kind (the difference of the two scrapes);
#   5. the tracker core's own hiccups over the measured run (bench/hiccup.c), window by window beside
#      the driver's: a window slow in both was the machine's (a VM's CPU not run by its host).
# The load: PASSKEYS registered users (peer p uses passkey p % PASSKEYS), IH_POOL info_hashes, PEER_POOL peers.
# In keep-alive mode the tracker runs with http.keep_alive: true (the default), in the close mode with
# false (the driver sends "Connection: close" anyway); everything else is as shipped.
#
# usage: bench/open-loop.sh                    (environment, defaults:)
#   DURATION=600 WARMUP=10 MAX_WARMUP=5 MAX_SECS=30 MODES="http-close http-keepalive udp" PORT=7121 METRICS_PORT=7122
#   CONNS=64 (HTTP connections, closed and open loop) UDP_WINDOW=64 (closed loop) PASSKEYS=2000
#   IH_POOL=1000 PEER_POOL=100000 NUMWANT=50 POISSON=0 (a seed: Poisson arrivals instead of even spacing)
#   REGISTRY_TOUCH=120 (every that many seconds of the open-loop run the users file is replaced by a copy
#   with one user changed, as a site's export job would, so the tracker reads all 100,000 lines while it
#   serves, and applies the one that changed; 0 = never)
#   RATE (unset: half the closed-loop maximum; a number: that offered rate, to compare builds at one load)
#   COALESCE_US (unset: the config's default; a number: udp.coalesce_us, the batched socket's pause after
#   a read that emptied it while datagrams keep coming)
#   PROFILE=0 (1: the open-loop tracker runs under `node --cpu-prof`, and the report lists each stall of
#   STALL_MS=20 ms or more with the frames that held the loop, from bench/cpuprofile-stalls.mjs; the
#   profiler costs a little CPU, so compare latencies only between runs with the same PROFILE)
#   NODE_FLAGS (extra node flags for the open-loop tracker, e.g. "--trace-gc", or
#   "--import=$PWD/bench/heap-sampler.mjs" for a heap profile of what survives the scavenges)
#   KEEP_LOG (a path: the open-loop tracker's output is kept as KEEP_LOG.<mode>, e.g. for --trace-gc)
# needs: cc, wrk, taskset, curl, ss, node, 2+ cores; privtrak built (npm run build at the root).
# writes: bench/results/open-loop-<UTC>.md, and prints it. Traffic: 127.0.0.1 only. Every step is bounded
# in time (`timeout`); whatever it started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=tracker-process.sh
. ./tracker-process.sh

DURATION="${DURATION:-600}"
WARMUP="${WARMUP:-10}"
MAX_WARMUP="${MAX_WARMUP:-5}"
MAX_SECS="${MAX_SECS:-30}"
MODES="${MODES:-http-close http-keepalive udp}"
PORT="${PORT:-7121}"
METRICS_PORT="${METRICS_PORT:-7122}"
CONNS="${CONNS:-64}"
UDP_WINDOW="${UDP_WINDOW:-64}"
PASSKEYS="${PASSKEYS:-2000}"
IH_POOL="${IH_POOL:-1000}"
PEER_POOL="${PEER_POOL:-100000}"
# 1: peer p announces torrent (p % IH_POOL) + 1 only, so the tracker holds at most PEER_POOL peer/torrent pairs
# (the issue's 100,000); 0: both drawn at random per announce, and the pairs grow for the whole run.
FIXED_IH="${FIXED_IH:-1}"
NUMWANT="${NUMWANT:-50}"
POISSON="${POISSON:-0}"
PROFILE="${PROFILE:-0}"
REGISTRY_TOUCH="${REGISTRY_TOUCH:-120}"
STALL_MS="${STALL_MS:-20}"

die() { echo "open-loop.sh: $*" >&2; exit 1; }
for v in REGISTRY_TOUCH PROFILE STALL_MS FIXED_IH DURATION WARMUP MAX_WARMUP MAX_SECS PORT METRICS_PORT CONNS UDP_WINDOW PASSKEYS IH_POOL PEER_POOL NUMWANT POISSON; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
if [ -n "${RATE:-}" ]; then [[ "$RATE" =~ ^[0-9]+$ ]] && (( RATE >= 1 && RATE <= 1000000 )) || die "RATE must be 1..1000000 announces/s (got '$RATE')"; fi
if [ -n "${COALESCE_US:-}" ]; then [[ "$COALESCE_US" =~ ^[0-9]+$ ]] && (( COALESCE_US <= 10000 )) || die "COALESCE_US must be 0..10000 µs (got '$COALESCE_US')"; fi
(( DURATION >= 1 && DURATION <= 600 )) || die "DURATION must be 1..600 s"
(( WARMUP <= 60 )) || die "WARMUP must be at most 60 s"
(( MAX_SECS >= 1 && MAX_SECS <= 120 )) || die "MAX_SECS must be 1..120 s"
(( MAX_WARMUP <= 60 )) || die "MAX_WARMUP must be at most 60 s"
(( PASSKEYS >= 1 && PASSKEYS <= 98000 )) || die "PASSKEYS must be 1..98000 (the registry's enabled users)"
(( IH_POOL >= 1 && IH_POOL <= 100000 )) || die "IH_POOL must be 1..100000 (the registry's torrents)"
(( UDP_WINDOW >= 1 && UDP_WINDOW < 4096 )) || die "UDP_WINDOW must be 1..4095"
for m in $MODES; do [[ "$m" =~ ^(http-close|http-keepalive|udp)$ ]] || die "unknown mode $m"; done
(( $(nproc) >= 2 )) || die "needs 2 cores (tracker on core 0, load on core 1)"
for cmd in cc wrk taskset curl ss node timeout; do command -v "$cmd" >/dev/null || die "missing: $cmd"; done
[ -f ../dist/src/cli/main.js ] || die "privtrak is not built: run 'npm run build' at the repository root"

mkdir -p bin results
cc -O2 -Wall -o bin/open-loop open-loop.c
cc -O2 -Wall -o bin/udp-load udp-load.c
cc -O2 -Wall -o bin/hiccup hiccup.c

RUN_DIR=$(mktemp -d)
PID="" SCRAPER="" TOUCHER="" METER=""
cleanup() {
  [ -n "$METER" ] && { pkill -P "$METER" 2>/dev/null || true; kill "$METER" 2>/dev/null || true; }
  [ -n "$SCRAPER" ] && { pkill -P "$SCRAPER" 2>/dev/null || true; kill "$SCRAPER" 2>/dev/null || true; }
  [ -n "$TOUCHER" ] && { pkill -P "$TOUCHER" 2>/dev/null || true; kill "$TOUCHER" 2>/dev/null || true; }
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && sleep 0.5 && kill -9 "$PID" 2>/dev/null
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy "$PORT" && die "port $PORT is already in use (set PORT=...)"
port_busy "$METRICS_PORT" && die "port $METRICS_PORT is already in use (set METRICS_PORT=...)"

# The registry, and the load's passkeys: enabled users that may leech (make-registry disables every
# 100th user and takes download rights from every 50th), so every announce should be answered.
node make-registry.mjs "$RUN_DIR/registry" 100000 100000 >&2
awk -F, -v n="$PASSKEYS" 'NR > 1 && $3 == "true" && $4 == "true" {print $1; if (++k == n) exit}' "$RUN_DIR/registry/users.csv" > "$RUN_DIR/passkeys.txt"
(( $(wc -l < "$RUN_DIR/passkeys.txt") == PASSKEYS )) || die "the registry has fewer than $PASSKEYS usable passkeys"

pt_config() { # $1 keep_alive (true|false)
  cat <<YAML
# config.example.yaml's defaults, with its access hooks enabled; only addresses and paths changed.
metrics_addr: "127.0.0.1:$METRICS_PORT"
user_key_secret: "$RUN_DIR/user-key.secret"
http: {addr: "127.0.0.1:$PORT", keep_alive: $1}
udp: {addr: "127.0.0.1:$PORT"${COALESCE_US:+, coalesce_us: $COALESCE_US}}
registry: {source: file, users: "$RUN_DIR/registry/users.csv", torrents: "$RUN_DIR/registry/torrents.csv"}
prehooks:
  - name: user_approval
  - name: torrent_approval
  - name: privtrak
    options: {journal_dir: "$RUN_DIR/journal", sink: {name: sqlite, path: "$RUN_DIR/privtrak.sqlite"}}
YAML
}

start_tracker() { # $1 keep_alive, $2 extra node flags (optional) -> sets PID
  rm -rf "$RUN_DIR/journal" "$RUN_DIR"/privtrak.sqlite* "$RUN_DIR/user-key.secret"
  pt_config "$1" > "$RUN_DIR/pt.yaml"
  # shellcheck disable=SC2086 # $2 is a list of flags
  taskset -c 0 node $PT_NODE_FLAGS ${2:-} ../dist/src/cli/main.js serve --config "$RUN_DIR/pt.yaml" >"$RUN_DIR/log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do # the registry takes a few seconds to load
    kill -0 "$PID" 2>/dev/null || break
    if port_busy "$PORT" && curl -sf -m 1 "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null; then sleep 0.3; return 0; fi
    sleep 0.1
  done
  echo "privtrak did not start:" >&2; cat "$RUN_DIR/log" >&2; exit 1
}


# One HTTP announce with a registered passkey: the chain must answer with peers, not a refusal.
check_http() {
  local ih pk body
  ih=$(node hashes.mjs 1 | sed 's/../%&/g'); pk=$(head -1 "$RUN_DIR/passkeys.txt")
  body=$(curl -s -m 3 "http://127.0.0.1:$PORT/$pk/announce?info_hash=$ih&peer_id=-BE0001-000000000001&port=6881&uploaded=0&downloaded=0&left=0&numwant=5&compact=1" | tr -c '[:print:]' '.' || true)
  [[ "$body" == *5:peers* && "$body" != *failure* ]] || die "not a valid announce reply: ${body:0:200}"
}

# Closed loop, $2 s: prints the announces per second answered.
max_rate() { # $1 mode, $2 seconds
  if [ "$1" = udp ]; then
    timeout $(($2 + 15)) taskset -c 1 bin/udp-load 127.0.0.1 "$PORT" "$2" "$UDP_WINDOW" "$IH_POOL" "$PEER_POOL" "$NUMWANT" \
      passkeys "$RUN_DIR/passkeys.txt" fixed-ih "$FIXED_IH" > "$RUN_DIR/max.out" 2>&1 || true
    awk '{for (i = 1; i <= NF; i++) if ($i ~ /^rate=/) {sub(/rate=/, "", $i); print int($i)}}' "$RUN_DIR/max.out"
  else
    local args=(PASSKEY_FILE="$RUN_DIR/passkeys.txt" FIXED_IH="$FIXED_IH")
    [ "$1" = http-close ] && args+=(CLOSE=1)
    IH_POOL=$IH_POOL PEER_POOL=$PEER_POOL NUMWANT=$NUMWANT timeout $(($2 + 15)) taskset -c 1 wrk -t1 -c"$CONNS" -d"$2"s \
      --timeout 5s -s http-announce.lua "http://127.0.0.1:$PORT" -- "${args[@]}" > "$RUN_DIR/max.out" 2>&1 || true
    # Refusals are 200s too: a closed-loop rate counts only if wrk saw no errors of any kind.
    grep -qE 'Non-2xx|Socket errors' "$RUN_DIR/max.out" && { echo "  wrk reported errors:" >&2; cat "$RUN_DIR/max.out" >&2; }
    awk '/Requests\/sec/ {print int($2)}' "$RUN_DIR/max.out"
  fi
}

scrape() { curl -sf -m 5 "http://127.0.0.1:$METRICS_PORT/metrics" > "$1" || : > "$1"; }
metric() { # $1 file, $2 metric name (with labels, as printed): the value, or "?"
  awk -v n="$2" '$1 == n {print $2; f = 1} END {if (!f) print "?"}' "$1"
}
ms() { awk -v s="$1" 'BEGIN { if (s == "?") print "?"; else printf "%.1f", s * 1000 }'; }
# GC pauses during the run: "kind count total_ms" for every kind with pauses (after minus before).
gc_pauses() { # $1 before, $2 after
  awk '
    /^privtrak_nodejs_gc_duration_seconds_(count|sum)\{/ {
      match($1, /kind="[a-z]+"/); k = substr($1, RSTART + 6, RLENGTH - 7)
      what = ($1 ~ /_count\{/) ? "c" : "s"
      v[FILENAME == ARGV[1] ? "b" : "a", what, k] = $2; kinds[k] = 1
    }
    END {
      out = ""
      for (k in kinds) {
        c = v["a", "c", k] - v["b", "c", k]; s = v["a", "s", k] - v["b", "s", k]
        if (c > 0) out = out sprintf("%s%s %d, %.0f ms", (out == "" ? "" : "; "), k, c, s * 1000)
      }
      print (out == "" ? "none" : out)
    }' "$1" "$2"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
stat_all() { awk '/^cpu / {print $2+$3+$4}' /proc/stat; }
CLK_TCK=$(getconf CLK_TCK)

declare -A MAX ANSWERED ROW LINES STALLS HICCUPS
for mode in $MODES; do
  ka=$([ "$mode" = http-keepalive ] && echo true || echo false)
  echo "== $mode: maximum, closed loop, ${MAX_WARMUP} s warm-up, ${MAX_SECS} s measured" >&2
  start_tracker "$ka"
  [ "$mode" != udp ] && check_http
  (( MAX_WARMUP > 0 )) && max_rate "$mode" "$MAX_WARMUP" > /dev/null
  scrape "$RUN_DIR/max-before.prom"
  ANSWERED[$mode]=$(max_rate "$mode" "$MAX_SECS")
  # wrk counts a refusal (200, "failure reason") as a success: the tracker's own counters say if any.
  scrape "$RUN_DIR/max.prom"
  refused=$(awk '/^privtrak_requests_total\{/ && /action="announce"/ && !/outcome="ok"/ {s += $2} END {print s + 0}' "$RUN_DIR/max.prom")
  answered=$(awk '/^privtrak_requests_total\{/ && /action="announce"/ && /outcome="ok"/ {s += $2} END {print s + 0}' "$RUN_DIR/max.prom")
  (( refused == 0 )) || echo "   WARNING: the tracker refused $refused of $((refused + answered)) closed-loop announces: the maximum is suspect" >&2
  stop_tracker
  [[ "${ANSWERED[$mode]}" =~ ^[0-9]+$ ]] && (( ANSWERED[$mode] > 1 )) || die "no maximum for $mode: $(cat "$RUN_DIR/max.out")"
  read -r MAX[$mode] pending0 pending1 < <(node sustained-max.mjs "$RUN_DIR/max-before.prom" "$RUN_DIR/max.prom" "${ANSWERED[$mode]}" "$MAX_SECS")
  echo "   answered ${ANSWERED[$mode]}/s; deltas pending ${pending0} -> ${pending1}: kept up ${MAX[$mode]}/s" >&2
  rate=$(( MAX[$mode] / 2 ))
  # RATE: a fixed offered rate instead (to compare two builds at the same load; the maximum is still reported).
  [ -n "${RATE:-}" ] && rate=$RATE
  echo "   maximum ${MAX[$mode]}/s; open loop at ${rate}/s: ${WARMUP} s warm-up, ${DURATION} s measured" >&2

  prof_flags=""
  (( PROFILE )) && { rm -rf "$RUN_DIR/prof"; prof_flags="--cpu-prof --cpu-prof-interval 1000 --cpu-prof-dir=$RUN_DIR/prof"; }
  start_tracker "$ka" "$prof_flags ${NODE_FLAGS:-}"
  [ "$mode" != udp ] && check_http
  # The scrape when the warm-up ends: resets the event-loop delay histogram, and is the GC baseline.
  ( sleep "$WARMUP"; scrape "$RUN_DIR/before.prom"; echo "$(cpu_ticks "$PID") $(stat_all) $(date +%s.%N)" > "$RUN_DIR/before.cpu" ) &
  SCRAPER=$!
  # The site's export job: a new users file every REGISTRY_TOUCH s (one user's site_id changed, so the
  # content differs), written aside and renamed over the old one; the tracker's poll reads all of it and applies the line that changed.
  # The job runs on the load's core: left to the scheduler, its ~0.1 s of CPU could land on the tracker's core, and
  # the tracker's latency would count another process's work (on a server the site's job runs elsewhere).
  if (( REGISTRY_TOUCH > 0 )); then
    ( n=0; users="$RUN_DIR/registry/users.csv"
      while sleep "$REGISTRY_TOUCH"; do
        n=$((n + 1))
        taskset -c 1 awk -F, -v OFS=, -v n="$n" 'NR == 2 {$2 = 1000000 + n} {print}' "$users" > "$users.next" && mv "$users.next" "$users"
        echo "$n" > "$RUN_DIR/reloads"
      done ) &
    TOUCHER=$!
  fi
  opts=(passkeys "$RUN_DIR/passkeys.txt" conns "$CONNS" ih-pool "$IH_POOL" peer-pool "$PEER_POOL" numwant "$NUMWANT"
        fixed-ih "$FIXED_IH" warmup "$WARMUP" max-outstanding 60000)
  (( POISSON > 0 )) && opts+=(poisson "$POISSON")
  # The tracker core's own stalls over the measured run (bench/hiccup.c: a 1 ms sleeper at real-time
  # priority on core 0), in the driver's 10 s windows: a window slow in both was the machine's.
  ( sleep "$WARMUP"; exec timeout $((DURATION + 10)) bin/hiccup 0 "$DURATION" 10 ) > "$RUN_DIR/hiccup.out" 2>&1 &
  METER=$!
  timeout $((DURATION + WARMUP + 30)) taskset -c 1 bin/open-loop "$mode" 127.0.0.1 "$PORT" "$rate" "$DURATION" "${opts[@]}" \
    > "$RUN_DIR/ol.out" 2> "$RUN_DIR/ol.err" || { cat "$RUN_DIR/ol.err" >&2; die "the open-loop driver failed ($mode)"; }
  wait "$SCRAPER" 2>/dev/null || true; SCRAPER=""
  wait "$METER" 2>/dev/null || true; METER=""
  # `|| true` on each: killing the toucher's sleep ends its loop, so the toucher may be gone before the
  # kill, and under `set -e` a failed kill ended this script here, results unwritten and the tracker
  # left running (the "SIGTERM from outside" of earlier sessions: the "Terminated" was that sleep's).
  if [ -n "$TOUCHER" ]; then pkill -P "$TOUCHER" 2>/dev/null || true; kill "$TOUCHER" 2>/dev/null || true; wait "$TOUCHER" 2>/dev/null || true; TOUCHER=""; fi
  scrape "$RUN_DIR/after.prom"
  read -r c0 s0 w0 < "$RUN_DIR/before.cpu"
  read -r c1 s1 w1 < <(echo "$(cpu_ticks "$PID") $(stat_all) $(date +%s.%N)")
  alive=$(kill -0 "$PID" 2>/dev/null && echo yes || echo "no (died)")
  stop_tracker
  [ -n "${KEEP_LOG:-}" ] && cp "$RUN_DIR/log" "$KEEP_LOG.$mode"
  if (( PROFILE )); then
    # The main thread's profile is the first one Node writes (the SQLite sink's worker has its own).
    prof=$(ls "$RUN_DIR"/prof/*.cpuprofile 2>/dev/null | sort | head -1)
    STALLS[$mode]=$([ -n "$prof" ] && node cpuprofile-stalls.mjs "$prof" "$STALL_MS" 6 || echo "no profile written")
  fi
  cat "$RUN_DIR/ol.out" >&2

  final=$(tail -1 "$RUN_DIR/ol.out")
  get() { awk -v k="$1" '{for (i = 1; i <= NF; i++) {split($i, kv, "="); if (kv[1] == k) print kv[2]}}' <<<"$final"; }
  us_ms() { awk -v u="$(get "$1")" 'BEGIN { printf "%.2f", u / 1000 }'; }
  cpu=$(awk -v a="$c0" -v b="$c1" -v s0="$s0" -v s1="$s1" -v w0="$w0" -v w1="$w1" -v hz="$CLK_TCK" 'BEGIN {
    el = w1 - w0; tr = (b - a) / hz; all = (s1 - s0) / hz
    printf "%.0f%% / %.0f%%", tr / el * 100, (all - tr) / el * 100 }')
  lag="$(ms "$(metric "$RUN_DIR/after.prom" privtrak_nodejs_eventloop_lag_p50_seconds)") / $(ms "$(metric "$RUN_DIR/after.prom" privtrak_nodejs_eventloop_lag_p99_seconds)") / $(ms "$(metric "$RUN_DIR/after.prom" privtrak_nodejs_eventloop_lag_max_seconds)")"
  errs="$(get errors) / $(get timeouts) / $(get dropped)"
  # Reloads of the users file: whole ("full"), or applied as the lines that changed ("incremental").
  reloads_of() { awk -v k="$1" '$1 == "privtrak_registry_refreshes_total{kind=\""k"\"}" {v[FILENAME] = $2} END {print v[ARGV[2]] - v[ARGV[1]]}' "$RUN_DIR/before.prom" "$RUN_DIR/after.prom"; }
  full_reloads="$(reloads_of full) / $(reloads_of incremental)"
  ROW[$mode]="| $mode | ${ANSWERED[$mode]} → ${MAX[$mode]} | $rate | $(get rate) | $(us_ms p50_us) | $(us_ms p99_us) | $(us_ms p999_us) | $(us_ms max_us) | $(get late) | $errs | $lag | $(gc_pauses "$RUN_DIR/before.prom" "$RUN_DIR/after.prom") | $full_reloads | $(us_ms slip_max_us) | $cpu | $alive |"
  LINES[$mode]=$(cat "$RUN_DIR/ol.out")
  # Per window: the driver's slowest announce beside the tracker core's worst hiccup; then how many
  # windows slower than 20 ms coincided with a hiccup over 10 ms.
  HICCUPS[$mode]=$(awk '
    function val(k,   i, kv) { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
    FNR == NR { if ($1 ~ /^t=/) h[$1] = val("max_us"); else if ($1 == "hiccup") hline = $0; next }
    $1 ~ /^t=/ && !($1 in seen) { seen[$1] = 1; d = val("max_us"); printf "%s announce max %.1f ms, core hiccup max %s\n", $1, d / 1000, ($1 in h) ? sprintf("%.1f ms", h[$1] / 1000) : "?"
      if (d > 20000) { slow++; if (($1 in h) && h[$1] > 10000) both++ } }
    END { printf "%s\nwindows with an announce over 20 ms: %d, of which with a hiccup of the tracker core over 10 ms: %d\n", hline, slow, both }
  ' "$RUN_DIR/hiccup.out" "$RUN_DIR/ol.out")
  hmax=$(awk '$1 == "hiccup" { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "max_us") m = kv[2]; if (kv[1] == "over10ms") o = kv[2] } } END { printf "%.1f / %s", m / 1000, o }' "$RUN_DIR/hiccup.out")
  ROW[$mode]="${ROW[$mode]% |} | $hmax |"
done

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="results/open-loop-$STAMP.md"
{
  echo "Open loop, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -r), Node $(node -v), privtrak $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Settings: \`DURATION=$DURATION bench/open-loop.sh\` — the private chain of config.example.yaml (user_approval, torrent_approval, privtrak hook with the SQLite sink; 100,000 users and 100,000 torrents in a file registry; keep_alive on only in the keep-alive mode; the users file replaced every ${REGISTRY_TOUCH} s, 0 = never); tracker on core 0, load on core 1;" \
       "maximum: closed loop, ${MAX_WARMUP} s warm-up then ${MAX_SECS} s (wrk -t1 -c${CONNS} / udp-load, ${UDP_WINDOW} in flight), answered → kept up (answered less the pending deltas' growth per second, bench/sustained-max.mjs); open loop: bench/open-loop.c at half the maximum, $([ "$POISSON" -gt 0 ] && echo "Poisson arrivals (seed $POISSON)" || echo "evenly spaced"), ${WARMUP} s warm-up then ${DURATION} s measured, HTTP over ${CONNS} connections;" \
       "load: ${PASSKEYS} passkeys, ${IH_POOL} info_hashes × ${PEER_POOL} peers, numwant ${NUMWANT}."
  echo
  echo "Latency is from each announce's scheduled send time (no coordinated omission). Late starts: announces that found no free connection when due (the wait is in their latency). Errors / timeouts / dropped: error replies and connection errors / no answer within 5 s / over the cap on outstanding announces."
  echo "Event-loop delay: the tracker's \`privtrak_nodejs_eventloop_lag_*\` over the measured run (prom-client samples it with a 10 ms timer, so an idle loop reads about 10 ms: the excess over 10 ms is the delay). GC pauses: \`privtrak_nodejs_gc_duration_seconds\` by kind, count and total over the measured run. Driver slip: how late the driver itself sent an announce that had a free connection (its own scheduling; more than a few ms means the load core was busy and the run is suspect). CPU: the tracker's share of one core / everything else on the machine (the load generator included). Tracker core hiccup: how late bench/hiccup.c, a 1 ms sleeper at real-time priority on the tracker's core, woke at worst, and how often more than 10 ms late: stalls of the machine, not of the tracker."
  echo
  echo "| mode | max/s, closed loop: answered → kept up | offered/s | achieved/s | p50 ms | p99 ms | p99.9 ms | max ms | late starts | errors / timeouts / dropped | event-loop delay p50 / p99 / max ms | GC pauses (count, total) | registry reloads, whole / as changes (100,000 users) | driver slip max ms | CPU tracker / rest | tracker alive | tracker core hiccup max ms / over 10 ms |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for mode in $MODES; do echo "${ROW[$mode]}"; done
  echo
  echo "Per-interval lines of the driver (by completion time: a stall shows in the interval it ended in):"
  for mode in $MODES; do
    echo
    echo "$mode:"
    echo '```'
    echo "${LINES[$mode]}"
    echo '```'
  done
  echo
  echo "The tracker core's hiccups (bench/hiccup.c, how late a 1 ms sleeper at real-time priority on core 0 woke) beside each window's slowest announce:"
  for mode in $MODES; do
    echo
    echo "$mode:"
    echo '```'
    echo "${HICCUPS[$mode]}"
    echo '```'
  done
  if (( PROFILE )); then
    echo
    echo "Stalls of ${STALL_MS} ms or more in the tracker's CPU profile (bench/cpuprofile-stalls.mjs: times the event loop did not wait once; seconds from the tracker's start; the frames that held it, inclusive):"
    for mode in $MODES; do
      echo
      echo "$mode:"
      echo '```'
      echo "${STALLS[$mode]}"
      echo '```'
    done
  fi
} > "$OUT"
cat "$OUT"
echo >&2; echo "written: bench/$OUT" >&2
