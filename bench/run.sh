#!/usr/bin/env bash
# Benchmarks privtrak against opentracker (Debian package) and the npm bittorrent-tracker server, in
# one run. Every tracker is pinned to core 0 (taskset -c 0) and the load generator to core 1
# (taskset -c 1). For each tracker and each mode (HTTP with "Connection: close", HTTP keep-alive,
# UDP): a fresh tracker process, a warm-up, then a measured run of fixed duration. Also measured:
#   - the generators against trivial fixed-reply servers (node:http, dgram) — together with the
#     fastest tracker (opentracker) this shows the generator is not the bottleneck;
#   - each tracker's RSS after loading FILL_PEERS distinct peers (over IH_POOL info_hashes);
#   - optionally (BENCH_MIDDLEWARE=1) privtrak with the privtrak hook and its SQLite sink, against
#     the bare tracker on the same passkey load, and RSS per tracked peer at MW_FILL peers; with
#     MW_SIDE=1 also both side by side on one core (CPU per announce);
#   - optionally (BENCH_ACCESS=1) the full private chain (access hooks + privtrak) over a registry of
#     100,000 users and 100,000 torrents, against the bare tracker and the privtrak hook alone: the load
#     announces with ACCESS_PASSKEYS registered passkeys (peer p uses passkey p % ACCESS_PASSKEYS),
#     ACCESS_ROUNDS rounds per mode in alternating order, medians; CPU per announce, whole process and
#     main thread (the rest is the SQLite sink's writer thread and libuv's). With ACCESS_FIXED_IH=1
#     (default) peer p announces only info_hash p % IH_POOL: 100,000 peer/torrent pairs, as in the
#     issue's harness, not every peer on every torrent; 1,009 passkeys (prime) so that a user's peers
#     spread over ~100 torrents instead of each user sitting on one. Then the SQLite sink alone on the
#     same pairs (bench/sqlite-floor.mjs): its CPU per delta as a share of the bare tracker's per announce.
#   - optionally (BENCH_BEFORE=DIR) this build against an earlier one, built in DIR (a checkout with
#     node_modules and dist/): the bare tracker and the privtrak hook, MW_ROUNDS alternating pairs per
#     mode, to show a change did not cost throughput (same bench, before/after, side by side); on the
#     passkey load, or with AB_LOAD=access on the access load (ACCESS_PASSKEYS, ACCESS_FIXED_IH).
#   - after every privtrak run: announces refused as busy (added to the errors) and deltas still pending
#     (privtrak's metrics on METRICS_PORT = PORT + 1), so a rate bought by a writer left behind shows.
#   SKIP_TRACKERS=1 leaves out the three-tracker comparison (to run only the hook sections).
#
# usage: bench/run.sh [DURATION_S]            (default 10; or DURATION=...)
# environment (defaults): WARMUP=2 PORT=7101 IH_POOL=1000 PEER_POOL=100000 NUMWANT=50 CONNS=64
#                         UDP_WINDOW=64 FILL_PEERS=100000 BENCH_MIDDLEWARE=0 MW_FILL="100000 1000000" MW_ROUNDS=5
#                         MW_SIDE=0
#                         BENCH_ACCESS=0 ACCESS_PASSKEYS=1009 ACCESS_FIXED_IH=1 ACCESS_ROUNDS=3 SKIP_TRACKERS=0 QUIET_WAIT=120
#                         AB_LOAD=passkey METRICS_PORT=PORT+1
# Other work on the machine skews everything: each cell first waits (up to QUIET_WAIT s) for both
# cores to be idle, and the tables report the CPU used by anything else during the measured run.
# needs: wrk, opentracker, cc, taskset, ss, 2+ cores; privtrak built (npm run build at the root);
#        bench/node_modules (cd bench && npm install --ignore-scripts; done here if missing).
# writes: bench/results/latest.md and bench/results/run-<UTC time>.md, and prints the tables.
# Traffic: 127.0.0.1 only. Every load is bounded in time (and the fill in count).
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=tracker-process.sh
. ./tracker-process.sh

DURATION="${1:-${DURATION:-10}}"
WARMUP="${WARMUP:-2}"
PORT="${PORT:-7101}"
IH_POOL="${IH_POOL:-1000}"
PEER_POOL="${PEER_POOL:-100000}"
NUMWANT="${NUMWANT:-50}"
CONNS="${CONNS:-64}"
UDP_WINDOW="${UDP_WINDOW:-64}"   # announces in flight; more only adds queueing latency
FILL_PEERS="${FILL_PEERS:-100000}"
BENCH_MIDDLEWARE="${BENCH_MIDDLEWARE:-0}"
MW_ROUNDS="${MW_ROUNDS:-5}"           # pairs (bare, hook) per mode for the hook's cost; the median pair counts
MW_FILL="${MW_FILL:-100000 1000000}"  # peer counts for the privtrak hook's memory per peer
MW_SIDE="${MW_SIDE:-0}"               # 1: also the hook's CPU per announce with both trackers side by side on one core
BENCH_ACCESS="${BENCH_ACCESS:-0}"     # 1: the full private chain (100k users, 100k torrents) against the bare tracker
ACCESS_PASSKEYS="${ACCESS_PASSKEYS:-1009}" # registered passkeys the chain's load announces with
ACCESS_FIXED_IH="${ACCESS_FIXED_IH:-1}" # 1: in the chain's load each peer stays on one torrent (below)
ACCESS_ROUNDS="${ACCESS_ROUNDS:-3}"   # rounds of (no hooks, hook alone, chain) per mode, order alternating; medians count
SKIP_TRACKERS="${SKIP_TRACKERS:-0}"   # 1: skip the three-tracker comparison and its memory fill (hook sections only)
BENCH_BEFORE="${BENCH_BEFORE:-}"      # DIR: compare with the privtrak built in DIR (before/after)
AB_CONFS="${AB_CONFS:-pk mw}"         # before/after: pk = no hooks, mw = the privtrak hook, chain = the full chain (with AB_LOAD=access)
AB_MODES="${AB_MODES:-close keepalive udp}"
# before/after load: passkey (one passkey, a random torrent per announce) or access (as BENCH_ACCESS: ACCESS_PASSKEYS
# passkeys, ACCESS_FIXED_IH): the sink's writer sees one row per delta only with the latter.
AB_LOAD="${AB_LOAD:-passkey}"
# privtrak's metrics (a listener the load never touches): after each measured run, announces refused as busy and
# deltas still pending, so a rate bought by a writer that fell behind shows (wrk counts a bencoded refusal as a 200).
METRICS_PORT="${METRICS_PORT:-$((PORT + 1))}"
QUIET_WAIT="${QUIET_WAIT:-120}"  # before each cell, wait up to this many seconds for the machine to be idle
PASSKEY_MW=0123456789abcdef0123456789abcdef

die() { echo "run.sh: $*" >&2; exit 1; }
for v in DURATION WARMUP PORT IH_POOL PEER_POOL NUMWANT CONNS UDP_WINDOW FILL_PEERS QUIET_WAIT MW_ROUNDS ACCESS_PASSKEYS ACCESS_ROUNDS ACCESS_FIXED_IH; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
(( DURATION >= 1 && DURATION <= 600 )) || die "DURATION must be 1..600 s"
(( FILL_PEERS <= 5000000 )) || die "FILL_PEERS must be at most 5,000,000"
(( WARMUP <= 60 )) || die "WARMUP must be at most 60 s"
(( MW_ROUNDS >= 1 && MW_ROUNDS <= 9 )) || die "MW_ROUNDS must be 1..9"
(( ACCESS_ROUNDS >= 1 && ACCESS_ROUNDS <= 9 )) || die "ACCESS_ROUNDS must be 1..9"
(( ACCESS_PASSKEYS >= 1 && ACCESS_PASSKEYS <= 97000 )) || die "ACCESS_PASSKEYS must be 1..97000 (the registry's users that may leech)"
(( UDP_WINDOW >= 1 && UDP_WINDOW < 4096 )) || die "UDP_WINDOW must be 1..4095"
for c in $AB_CONFS; do [[ "$c" =~ ^(pk|mw|chain)$ ]] || die "AB_CONFS: unknown configuration '$c' (pk, mw, chain)"; done
[[ " $AB_CONFS " != *" chain "* || "$AB_LOAD" = access ]] || die "AB_CONFS=chain needs AB_LOAD=access (the chain refuses passkeys it does not know)"
(( $(nproc) >= 2 )) || die "needs 2 cores (tracker on core 0, load on core 1)"
for cmd in wrk opentracker cc taskset ss node; do command -v "$cmd" >/dev/null || die "missing: $cmd"; done
[ -f ../dist/src/cli/main.js ] || die "privtrak is not built: run 'npm run build' at the repository root"
[ -z "$BENCH_BEFORE" ] || [ -f "$BENCH_BEFORE/dist/src/cli/main.js" ] || die "BENCH_BEFORE=$BENCH_BEFORE holds no built privtrak (dist/src/cli/main.js)"
export IH_POOL PEER_POOL NUMWANT

mkdir -p bin results
cc -O2 -Wall -o bin/udp-load udp-load.c
[ -d node_modules/bittorrent-tracker ] || npm install --ignore-scripts --no-audit --no-fund >/dev/null
# opentracker (Debian) only serves whitelisted info_hashes: the whitelist is the same deterministic pool.
node hashes.mjs "$IH_POOL" > results/whitelist.txt
# opentracker chroots into results/ and drops to "nobody", so both must be readable by it.
chmod 755 results; chmod 644 results/whitelist.txt

RUN_DIR=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$RUN_DIR"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy && die "port $PORT is already in use (set PORT=...)"
port_busy "$METRICS_PORT" && die "port $METRICS_PORT is already in use (set METRICS_PORT=...)"

# privtrak as a bare engine, like the other two: no hooks (the embedded default chain has the privtrak
# hook, which requires a passkey), announces accepted on /announce.
pt_config() { # $1 keep_alive (true|false), $2 hooks: no | yes (the privtrak hook) | chain (access hooks + privtrak)
  cat <<YAML
log_level: warn
metrics_addr: "127.0.0.1:$METRICS_PORT"
http: {addr: "127.0.0.1:$PORT", keep_alive: $1, max_numwant: 1000, announce_routes: ["/announce", "/:passkey/announce"]}
udp: {addr: "127.0.0.1:$PORT", max_numwant: 1000}
YAML
  if [ "$2" = chain ]; then cat <<YAML
registry: {source: file, users: "$REGISTRY_DIR/users.csv", torrents: "$REGISTRY_DIR/torrents.csv"}
prehooks:
  - {name: client_approval, options: {deny: [-TR2]}}
  - {name: user_approval}
  - {name: torrent_approval}
  - {name: freeleech}
  - name: privtrak
    options: {journal_dir: "$RUN_DIR/journal", sink: {name: sqlite, path: "$RUN_DIR/privtrak.sqlite"}}
YAML
  elif [ "$2" = yes ]; then cat <<YAML
prehooks:
  - name: privtrak
    options: {journal_dir: "$RUN_DIR/journal", sink: {name: sqlite, path: "$RUN_DIR/privtrak.sqlite"}}
YAML
  else
    echo "prehooks: []"
  fi
}

# One HTTP announce: the tracker must answer with a peer list, not a failure (wrk counts any 200).
check_http() {
  local ih path body
  ih=$(node hashes.mjs 1 | sed 's/../%&/g')
  path=${PASSKEY:+/$PASSKEY}/announce
  body=$(curl -s -m 3 "http://127.0.0.1:$PORT$path?info_hash=$ih&peer_id=-BE0001-000000000001&port=6881&uploaded=0&downloaded=0&left=0&numwant=5&compact=1" | tr -c '[:print:]' '.' || true)
  [[ "$body" == *5:peers* && "$body" != *failure* ]] && return 0
  echo "  not a valid announce reply: ${body:0:200}" >&2; return 1
}

start_tracker() { # $1 name, $2 keep_alive (true|false) -> sets PID; returns 1 if it did not come up
  rm -rf "$RUN_DIR/journal" "$RUN_DIR"/privtrak.sqlite*
  case "$1" in
    # Every privtrak variant: which hooks from the name's suffix (-pk and bare: none, +mw: the privtrak hook, +chain:
    # the full chain), which build from its prefix (before-*: BENCH_BEFORE's, the rest this checkout's).
    privtrak|privtrak-pk|privtrak+mw|privtrak+chain|after-pk|after+mw|after+chain|before-pk|before+mw|before+chain)
      local hooks=no root=..
      case "$1" in *+mw) hooks=yes ;; *+chain) hooks=chain ;; esac
      [[ "$1" == before* ]] && root=$BENCH_BEFORE
      pt_config "$2" "$hooks" > "$RUN_DIR/pt.yaml"
      taskset -c 0 node $PT_NODE_FLAGS "$root/dist/src/cli/main.js" serve --config "$RUN_DIR/pt.yaml" >"$RUN_DIR/log" 2>&1 & ;;
    opentracker)
      taskset -c 0 opentracker -i 127.0.0.1 -p "$PORT" -P "$PORT" -w whitelist.txt -d "$PWD/results" -u nobody >"$RUN_DIR/log" 2>&1 & ;;
    bittorrent-tracker) taskset -c 0 node bt-tracker.mjs "$PORT" >"$RUN_DIR/log" 2>&1 & ;;
    trivial-http) taskset -c 0 node trivial-http.mjs "$PORT" >"$RUN_DIR/log" 2>&1 & ;;
    trivial-udp) taskset -c 0 node trivial-udp.mjs "$PORT" >"$RUN_DIR/log" 2>&1 & ;;
    *) die "unknown tracker $1" ;;
  esac
  PID=$!
  for _ in $(seq 100); do
    kill -0 "$PID" 2>/dev/null || break
    if port_busy; then sleep 0.3; return 0; fi
    sleep 0.1
  done
  echo "$1 did not start:" >&2; cat "$RUN_DIR/log" >&2
  stop_tracker; return 1
}


# /proc/stat, all cores: "busy_user_system total" in ticks (softirq/irq are left out of busy: loopback
# traffic is processed there on behalf of the tracker and the generator).
stat_all() { awk '/^cpu / {print $2+$3+$4, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
wait_quiet() {
  local i a at b bt busy
  for i in $(seq "$QUIET_WAIT"); do
    read -r a at < <(stat_all); sleep 1; read -r b bt < <(stat_all)
    busy=$(awk -v d="$((b - a))" -v t="$((bt - at))" 'BEGIN {printf "%.0f", (t > 0 ? d / t * 100 : 0)}')
    (( busy <= 5 )) && return 0
    (( i == 1 )) && echo "  waiting for the machine to be idle (busy ${busy}% of $(nproc) cores)" >&2
  done
  echo "  WARNING: the machine is still busy (${busy}%): numbers will be skewed" >&2
}

rss_mb() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, all threads
main_ticks() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; } # the main thread's (the event loop)
CLK_TCK=$(getconf CLK_TCK)

# A load run: $1 close|keepalive|udp, $2 seconds. Prints "rate p99_ms errors generator_cpu_seconds".
load() {
  local mode=$1 secs=$2 gen_cpu
  local TIMEFORMAT="%U %S"
  if [ "$mode" = udp ]; then
    gen_cpu=$( { time taskset -c 1 bin/udp-load 127.0.0.1 "$PORT" "$secs" "$UDP_WINDOW" "$IH_POOL" "$PEER_POOL" "$NUMWANT" \
      ${UDP_PASSKEY:+passkey "$UDP_PASSKEY"} ${UDP_PASSKEYS:+passkeys "$UDP_PASSKEYS"} fixed-ih "${FIXED_IH:-0}" >"$RUN_DIR/out" 2>&1 || true; } 2>&1 )
    awk -v cpu="$gen_cpu" '{for (i=1;i<=NF;i++) {split($i,kv,"="); m[kv[1]]=kv[2]}}
      END {split(cpu, c, " "); printf "%s %.2f %d %.2f\n", (m["rate"]==""?0:m["rate"]), m["p99_us"]/1000, m["errors"]+m["lost"], c[1]+c[2]}' "$RUN_DIR/out"
  else
    local args=()
    [ "$mode" = close ] && args=(CLOSE=1)
    gen_cpu=$( { time taskset -c 1 wrk -t1 -c"$CONNS" -d"$secs"s --timeout 5s --latency -s http-announce.lua \
      "http://127.0.0.1:$PORT" -- "${args[@]}" >"$RUN_DIR/out" 2>&1 || true; } 2>&1 )
    awk -v cpu="$gen_cpu" '
      /Requests\/sec/ {rate=$2}
      $1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; p99=v}
      /Socket errors/ {gsub(/,/,""); for (i=3;i<NF;i+=2) if ($(i+1)>0) err=err (err==""?"":",") $i ":" $(i+1)}
      /Non-2xx/ {err=err (err==""?"":",") "non-2xx:" $NF}
      END {split(cpu, c, " "); printf "%.0f %.2f %s %.2f\n", rate, p99, (err==""?"0":err), c[1]+c[2]}' "$RUN_DIR/out"
  fi
}

declare -A PENDING RATE P99 ERR TCPU MCPU GCPU OCPU RSS MWRSS CHAINRSS RATE_R COST_R COST SIDE_R SIDE_COST SIDE_RATES
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
LOG_LINES=()
MAX_OTHER=10 # % of a core: a cell during which other processes used more is measured again (up to 3 times)
measure() { # $1 tracker, $2.. modes
  local t=$1 mode attempt; shift
  for mode in "$@"; do
    for attempt in 1 2 3; do
      measure_cell "$t" "$mode" || break
      (( ${OCPU[$t,$mode]:-0} <= MAX_OTHER )) && break
      (( attempt < 3 )) && echo "  other processes used ${OCPU[$t,$mode]}% of a core: measuring $t $mode again" >&2
    done
  done
}

measure_cell() { # $1 tracker, $2 mode; returns 1 if the cell cannot be measured
  local t=$1 mode=$2 r p e g c0 c1 m0 m1 t0 t1 s0 s1 x
  {
    wait_quiet
    if ! start_tracker "$t" "$([ "$mode" = keepalive ] && echo true || echo false)"; then
      RATE[$t,$mode]=0; P99[$t,$mode]=nan; ERR[$t,$mode]="did not start"; return 1
    fi
    if [[ "$mode" != udp && "$t" != trivial-* ]] && ! check_http; then
      RATE[$t,$mode]=0; P99[$t,$mode]=nan; ERR[$t,$mode]="invalid reply"; stop_tracker; return 1
    fi
    load "$mode" "$WARMUP" >/dev/null
    c0=$(cpu_ticks "$PID"); m0=$(main_ticks "$PID"); read -r s0 x < <(stat_all); t0=$(date +%s.%N)
    read -r r p e g < <(load "$mode" "$DURATION")
    c1=$(cpu_ticks "$PID" 2>/dev/null || echo "$c0"); m1=$(main_ticks "$PID" 2>/dev/null || echo "$m0"); read -r s1 x < <(stat_all); t1=$(date +%s.%N)
    MCPU[$t,$mode]=$(awk -v a="$m0" -v b="$m1" -v s="$t0" -v e="$t1" -v hz="$CLK_TCK" 'BEGIN {printf "%.0f", (b - a) / hz / (e - s) * 100}')
    RATE[$t,$mode]=$r; P99[$t,$mode]=$p; ERR[$t,$mode]=$e
    read -r "TCPU[$t,$mode]" "GCPU[$t,$mode]" "OCPU[$t,$mode]" < <(awk -v a="$c0" -v b="$c1" -v s0="$s0" -v s1="$s1" -v g="$g" \
      -v s="$t0" -v e="$t1" -v hz="$CLK_TCK" 'BEGIN {
        el = e - s; tr = (b - a) / hz; all = (s1 - s0) / hz; o = all - tr - g; if (o < 0) o = 0;
        printf "%.0f %.0f %.0f\n", tr / el * 100, g / el * 100, o / el * 100 }')
    kill -0 "$PID" 2>/dev/null || ERR[$t,$mode]="${ERR[$t,$mode]} (tracker died)"
    if [[ "$t" == privtrak* || "$t" == before* || "$t" == after* ]]; then
      read -r x e < <(curl -s -m 3 "http://127.0.0.1:$METRICS_PORT/metrics" | awk '
        /^privtrak_announces_refused_total\{.*reason="busy"/ {busy += $2} /^privtrak_deltas_pending / {pending = $2}
        END {printf "%d %d\n", busy, pending}')
      (( ${x:-0} > 0 )) && ERR[$t,$mode]="${ERR[$t,$mode]} (${x} refused busy)"
      PENDING[$t,$mode]=${e:-0}
    fi
    echo "  $t $mode: ${r}/s p99 ${p} ms, errors ${ERR[$t,$mode]}, CPU: tracker ${TCPU[$t,$mode]}%, generator ${GCPU[$t,$mode]}%, other ${OCPU[$t,$mode]}%${PENDING[$t,$mode]:+, deltas pending at the end ${PENDING[$t,$mode]}}" >&2
    stop_tracker
  }
}

echo "settings: ${DURATION}s measured after ${WARMUP}s warm-up; ${CONNS} HTTP connections (wrk -t1), ${UDP_WINDOW} UDP announces in flight; pools: ${IH_POOL} info_hashes, ${PEER_POOL} peer_ids; numwant ${NUMWANT}" >&2
export UDP_PASSKEY=""
if [ "$SKIP_TRACKERS" != 1 ]; then
echo "generators against trivial fixed-reply servers" >&2
measure trivial-http close keepalive
measure trivial-udp udp
for t in privtrak opentracker bittorrent-tracker; do
  echo "measuring $t" >&2
  measure "$t" close keepalive udp
done
fi

# The bare tracker and the privtrak hook side by side (see the hook section): $1 mode, $2 seconds.
# Sets SIDE_R[mode,round] (the hook's cost per announce in CPU time, %) and SIDE_RATES[mode,round].
side_load() { # $1 mode, $2 port, $3 seconds, $4 output: half the usual load, on core 1
  if [ "$1" = udp ]; then
    taskset -c 1 bin/udp-load 127.0.0.1 "$2" "$3" $((UDP_WINDOW / 2)) "$IH_POOL" "$PEER_POOL" "$NUMWANT" passkey "$PASSKEY_MW" >"$4" 2>&1
  else
    local args=(); [ "$1" = close ] && args=(CLOSE=1)
    taskset -c 1 wrk -t1 -c$((CONNS / 2)) -d"$3"s --timeout 5s -s http-announce.lua "http://127.0.0.1:$2" -- "${args[@]}" >"$4" 2>&1
  fi
  return 0
}
side_rate() { awk '/Requests\/sec/ {print $2} {for (i = 1; i <= NF; i++) if ($i ~ /^rate=/) {sub(/rate=/, "", $i); print $i}}' "$1" | head -1; }
side_by_side() {
  local mode=$1 secs=$2 ka pa=$PORT pb=$((PORT + 1)) a b w ta tb out rate_a rate_b cpu_a cpu_b
  ka=$([ "$mode" = keepalive ] && echo true || echo false)
  rm -rf "$RUN_DIR/journal" "$RUN_DIR"/privtrak.sqlite*
  pt_config "$ka" no > "$RUN_DIR/side-a.yaml"
  (PORT=$pb; pt_config "$ka" yes) > "$RUN_DIR/side-b.yaml"
  wait_quiet
  taskset -c 0 node $PT_NODE_FLAGS ../dist/src/cli/main.js serve --config "$RUN_DIR/side-a.yaml" >"$RUN_DIR/log-a" 2>&1 & a=$!
  taskset -c 0 node $PT_NODE_FLAGS ../dist/src/cli/main.js serve --config "$RUN_DIR/side-b.yaml" >"$RUN_DIR/log-b" 2>&1 & b=$!
  for _ in $(seq 100); do
    ss -Htlnu "( sport = :$pa )" | grep -q . && ss -Htlnu "( sport = :$pb )" | grep -q . && break
    sleep 0.1
  done
  sleep 0.3
  side_load "$mode" "$pa" "$WARMUP" /dev/null & w=$!; side_load "$mode" "$pb" "$WARMUP" /dev/null; wait "$w"
  ta=$(cpu_ticks "$a"); tb=$(cpu_ticks "$b")
  side_load "$mode" "$pa" "$secs" "$RUN_DIR/side-out-a" & w=$!; side_load "$mode" "$pb" "$secs" "$RUN_DIR/side-out-b"; wait "$w"
  ta=$(( $(cpu_ticks "$a") - ta )); tb=$(( $(cpu_ticks "$b") - tb ))
  kill "$a" "$b" 2>/dev/null; wait "$a" "$b" 2>/dev/null
  out=$(awk -v ra="$(side_rate "$RUN_DIR/side-out-a")" -v rb="$(side_rate "$RUN_DIR/side-out-b")" -v ta="$ta" -v tb="$tb" \
    -v s="$secs" -v hz="$CLK_TCK" 'BEGIN {
      if (ta <= 0 || tb <= 0 || ra <= 0) { print "nan 0 0 0 0"; exit }
      pa = ra * s / (ta / hz); pb = rb * s / (tb / hz); printf "%.1f %.0f %.0f %.0f %.0f\n", (1 - pb / pa) * 100, ra, rb, pa, pb }')
  read -r "SIDE_R[$mode,$round]" rate_a rate_b cpu_a cpu_b <<<"$out"
  SIDE_RATES[$mode,$round]="$rate_a vs $rate_b/s; $cpu_a vs $cpu_b per CPU second"
  echo "  side by side, $mode, round $round: ${SIDE_RATES[$mode,$round]}: cost ${SIDE_R[$mode,$round]}%" >&2
}

# Fills the running tracker with peers first..first+n-1 over UDP (chunks of 50,000, each from its own
# 127.0.1.x source address with distinct ports). Appends the generator's lines to $RUN_DIR/fill.
fill_peers() { # $1 total, $2 info_hash pool
  local total=$1 pool=$2 first chunk n
  for ((first = 1, chunk = 1; first <= total; first += 50000, chunk++)); do
    n=$(( total - first + 1 < 50000 ? total - first + 1 : 50000 ))
    taskset -c 1 bin/udp-load 127.0.0.1 "$PORT" 120 "$UDP_WINDOW" "$pool" "$total" 0 fill "$n" from "$first" \
      srcip "127.0.$(( 1 + (chunk - 1) / 250 )).$(( 1 + (chunk - 1) % 250 ))" ${UDP_PASSKEY:+passkey "$UDP_PASSKEY"} >>"$RUN_DIR/fill" 2>&1 || true
  done
}
fill_ok() { awk '{for (i=1;i<=NF;i++) {split($i,kv,"="); if (kv[1]=="ok") s+=kv[2]}} END {print s+0}' "$RUN_DIR/fill"; }

# Memory: RSS before and after announcing FILL_PEERS distinct peers (over IH_POOL info_hashes), over UDP.
[ "$SKIP_TRACKERS" != 1 ] && echo "memory: RSS after $FILL_PEERS distinct peers" >&2
for t in $([ "$SKIP_TRACKERS" != 1 ] && echo privtrak opentracker bittorrent-tracker); do
  wait_quiet
  if ! start_tracker "$t" false; then RSS[$t]="did not start"; continue; fi
  before=$(rss_mb "$PID")
  : > "$RUN_DIR/fill"
  fill_peers "$FILL_PEERS" "$IH_POOL"
  sleep 1
  ok=$(fill_ok)
  RSS[$t]="${before} | $(rss_mb "$PID") | ${ok:-0}"
  echo "  $t RSS: ${RSS[$t]} ($(tr '\n' ' ' < "$RUN_DIR/fill"))" >&2
  stop_tracker
done

# Optional: the cost of the privtrak hook (needs a passkey: /<passkey>/announce, BEP 41 URL data on UDP).
if [ "$BENCH_MIDDLEWARE" = 1 ]; then
  pt_config false yes > "$RUN_DIR/check.yaml"
  if node $PT_NODE_FLAGS ../dist/src/cli/main.js check-config --config "$RUN_DIR/check.yaml" >/dev/null 2>&1; then
    echo "measuring privtrak with the privtrak hook (SQLite sink)" >&2
    export PASSKEY=$PASSKEY_MW UDP_PASSKEY=$PASSKEY_MW
    # The bare tracker again, with the same passkey load (route /<passkey>/announce, BEP 41 URL
    # data), each pair back to back so both see the same machine: cost = 1 - with / without.
    # This VM's speed drifts by 10-40% from one minute to the next, so one pair can land on either side
    # of a drift: MW_ROUNDS pairs per mode, the order alternating (bare first, then hook first), and
    # the cost is the median of the per-pair costs.
    for mode in close keepalive udp; do
      for ((round = 1; round <= MW_ROUNDS; round++)); do
        order=$( (( round % 2 == 1 )) && echo "privtrak-pk privtrak+mw" || echo "privtrak+mw privtrak-pk")
        for t in $order; do
          measure "$t" "$mode"
          RATE_R[$t,$mode,$round]=${RATE[$t,$mode]}
        done
        COST_R[$mode,$round]=$(awk -v a="${RATE_R[privtrak-pk,$mode,$round]}" -v b="${RATE_R[privtrak+mw,$mode,$round]}" \
          'BEGIN { if (a > 0) printf "%.1f", (1 - b / a) * 100; else print "nan" }')
        echo "  round $round, $mode: cost ${COST_R[$mode,$round]}%" >&2
      done
      for t in privtrak-pk privtrak+mw; do
        RATE[$t,$mode]=$(median $(for ((round = 1; round <= MW_ROUNDS; round++)); do echo "${RATE_R[$t,$mode,$round]}"; done))
      done
      COST[$mode]=$(median $(for ((round = 1; round <= MW_ROUNDS; round++)); do echo "${COST_R[$mode,$round]}"; done))
    done
    # Side by side: both trackers at once, both on core 0 (the kernel shares the core between them), one
    # load generator each on core 1. A drift of the machine's speed hits both alike, which the pairs above
    # cannot promise. The hook's cost per announce in CPU time = 1 - (announces per CPU second with the
    # hook) / (without), counting every thread of each process (the SQLite worker's and the collector's).
    # Opt-in (MW_SIDE=1): two processes taking turns on one core also evict each other's caches and TLB
    # entries at every switch, which weighs on the one with the larger working set (BENCHMARKS.md).
    [ "$MW_SIDE" = 1 ] && for mode in close keepalive udp; do
      for ((round = 1; round <= MW_ROUNDS; round++)); do side_by_side "$mode" "$DURATION"; done
      SIDE_COST[$mode]=$(median $(for ((round = 1; round <= MW_ROUNDS; round++)); do echo "${SIDE_R[$mode,$round]}"; done))
    done
    # Memory per tracked peer: RSS after MW_FILL distinct peers (one user, 10,000 info_hashes), without and with the hook.
    for n in $MW_FILL; do
      for t in privtrak-pk privtrak+mw; do
        wait_quiet
        if ! start_tracker "$t" false; then MWRSS[$t,$n]="did not start"; continue; fi
        before=$(rss_mb "$PID"); : > "$RUN_DIR/fill"
        fill_peers "$n" 10000
        sleep 2
        MWRSS[$t,$n]="$before | $(rss_mb "$PID") | $(fill_ok)"
        echo "  $t RSS with $n peers: ${MWRSS[$t,$n]}" >&2
        stop_tracker
      done
    done
    unset PASSKEY; export UDP_PASSKEY=""
  else
    echo "the privtrak hook is not available in this build: skipping it" >&2
    BENCH_MIDDLEWARE=skipped
  fi
fi

# Optional: the full private chain — client_approval, user_approval, torrent_approval, freeleech and the
# privtrak hook over a file registry of 100,000 users and 100,000 torrents (bench/make-registry.mjs; the
# load's passkey and info_hashes are registered) — against the bare tracker and the privtrak hook alone.
REGISTRY_DIR="$RUN_DIR/registry"
declare -A ACOST_R ACOST AUS AMUS
# µs of CPU per announce from a share of a core (%) and a rate (announces/s).
us_per_announce() { awk -v c="$1" -v r="$2" 'BEGIN {printf "%.1f", (r > 0 ? c / 100 * 1e6 / r : 0)}'; }
# The median over rounds 1..ACCESS_ROUNDS of array $1 at keys "$2,<round>".
median_of_rounds() {
  local -n values=$1
  local round
  median $(for ((round = 1; round <= ACCESS_ROUNDS; round++)); do echo "${values[$2,$round]}"; done)
}
# The access load's passkeys: registered users that may leech (make-registry disables every 100th user and
# takes download rights from every 50th), one per peer in turn, as the issue's harness had (1,000).
access_passkeys() {
  awk -F, -v n="$ACCESS_PASSKEYS" 'NR > 1 && $3 == "true" && $4 == "true" {print $1; if (++k == n) exit}' \
    "$REGISTRY_DIR/users.csv" > "$RUN_DIR/passkeys.txt"
}
ACCESS_CONFS="privtrak-pk privtrak+mw privtrak+chain"
if [ "$BENCH_ACCESS" = 1 ]; then
  node make-registry.mjs "$REGISTRY_DIR" 100000 100000 >&2
  access_passkeys
  echo "measuring the full private chain (100k users, 100k torrents; load over $ACCESS_PASSKEYS passkeys, $ACCESS_ROUNDS rounds)" >&2
  export PASSKEY=$PASSKEY_MW PASSKEY_FILE="$RUN_DIR/passkeys.txt" UDP_PASSKEYS="$RUN_DIR/passkeys.txt" FIXED_IH=$ACCESS_FIXED_IH
  for mode in close keepalive udp; do
    for ((round = 1; round <= ACCESS_ROUNDS; round++)); do
      order=$( (( round % 2 == 1 )) && echo "$ACCESS_CONFS" || echo "$ACCESS_CONFS" | tr ' ' '\n' | tac | tr '\n' ' ')
      for t in $order; do
        measure "$t" "$mode"
        RATE_R[$t,$mode,$round]=${RATE[$t,$mode]}
        # CPU per announce (µs): the whole process, and its main thread.
        AUS[$t,$mode,$round]=$(us_per_announce "${TCPU[$t,$mode]}" "${RATE[$t,$mode]}")
        AMUS[$t,$mode,$round]=$(us_per_announce "${MCPU[$t,$mode]}" "${RATE[$t,$mode]}")
      done
      ACOST_R[$mode,$round]=$(awk -v a="${RATE_R[privtrak-pk,$mode,$round]}" -v c="${RATE_R[privtrak+chain,$mode,$round]}" \
        'BEGIN { if (a > 0) printf "%.1f", (1 - c / a) * 100; else print "nan" }')
      echo "  round $round, $mode: chain cost ${ACOST_R[$mode,$round]}%" >&2
    done
    for t in $ACCESS_CONFS; do
      RATE[$t,$mode]=$(median_of_rounds RATE_R "$t,$mode")
      AUS[$t,$mode]=$(median_of_rounds AUS "$t,$mode")
      AMUS[$t,$mode]=$(median_of_rounds AMUS "$t,$mode")
    done
    ACOST[$mode]=$(median_of_rounds ACOST_R "$mode")
  done
  unset PASSKEY_FILE UDP_PASSKEYS FIXED_IH
  # RSS of the chain at start: the registry's 100k users and 100k torrents in memory.
  for t in privtrak-pk privtrak+chain; do
    wait_quiet
    if start_tracker "$t" false; then sleep 1; CHAINRSS[$t]=$(rss_mb "$PID"); stop_tracker; fi
  done
  unset PASSKEY; export UDP_PASSKEY=""
  # The floor under the chain's cost on the tracker's one core: the SQLite sink's own CPU per delta on this
  # load's (user, torrent) pairs (bench/sqlite-floor.mjs, pinned as the tracker is), against the bare
  # tracker's CPU per announce measured above. With ACCESS_FIXED_IH=0 the pairs differ: not run.
  if (( ACCESS_FIXED_IH )); then
    wait_quiet
    echo "measuring the SQLite sink alone on the chain load's pairs" >&2
    FLOOR=$(taskset -c 0 node sqlite-floor.mjs --pairs "$PEER_POOL" --users "$ACCESS_PASSKEYS" --torrents "$IH_POOL" \
      --bare "close=${AUS[privtrak-pk,close]} keepalive=${AUS[privtrak-pk,keepalive]} udp=${AUS[privtrak-pk,udp]}") \
      || FLOOR="(bench/sqlite-floor.mjs failed)"
  fi
fi

# Optional: this build against an earlier one (BENCH_BEFORE), the bare tracker and the privtrak hook, on the
# passkey load; MW_ROUNDS pairs per mode and configuration, order alternating, the change is the median pair's.
declare -A AB_R AB
# ab_pair CONF: the trackers this build (now) and the earlier one (was) run for CONF, and its name in the table. This
# build runs under names of its own here (after-*), so these cells never overwrite the sections above (whose tables read
# RATE[privtrak-pk,…] and the others: a before/after run used to replace their medians with its own).
ab_pair() {
  case "$1" in
    pk) now=after-pk was=before-pk name="no hooks" ;;
    mw) now=after+mw was=before+mw name="privtrak hook" ;;
    chain) now=after+chain was=before+chain name="full private chain" ;;
  esac
}
if [ -n "$BENCH_BEFORE" ]; then
  echo "before/after: $(git -C "$BENCH_BEFORE" rev-parse --short HEAD 2>/dev/null || echo "$BENCH_BEFORE") vs this build" >&2
  export PASSKEY=$PASSKEY_MW UDP_PASSKEY=$PASSKEY_MW
  if [ "$AB_LOAD" = access ]; then
    [ -f "$RUN_DIR/passkeys.txt" ] || { node make-registry.mjs "$REGISTRY_DIR" 100000 100000 >&2; access_passkeys; }
    export PASSKEY_FILE="$RUN_DIR/passkeys.txt" UDP_PASSKEYS="$RUN_DIR/passkeys.txt" FIXED_IH=$ACCESS_FIXED_IH
  fi
  for conf in $AB_CONFS; do
    ab_pair "$conf"
    for mode in $AB_MODES; do
      for ((round = 1; round <= MW_ROUNDS; round++)); do
        order=$( (( round % 2 == 1 )) && echo "$was $now" || echo "$now $was")
        for t in $order; do measure "$t" "$mode"; RATE_R[$t,$mode,$round]=${RATE[$t,$mode]}; done
        AB_R[$conf,$mode,$round]=$(awk -v a="${RATE_R[$was,$mode,$round]}" -v b="${RATE_R[$now,$mode,$round]}" \
          'BEGIN { if (a > 0) printf "%+.1f", (b / a - 1) * 100; else print "nan" }')
        echo "  round $round, $conf $mode: ${AB_R[$conf,$mode,$round]}%" >&2
      done
      for t in $was $now; do
        RATE[$t,$mode]=$(median $(for ((round = 1; round <= MW_ROUNDS; round++)); do echo "${RATE_R[$t,$mode,$round]}"; done))
      done
      AB[$conf,$mode]=$(median $(for ((round = 1; round <= MW_ROUNDS; round++)); do echo "${AB_R[$conf,$mode,$round]}"; done))
    done
  done
  unset PASSKEY PASSKEY_FILE UDP_PASSKEYS FIXED_IH; export UDP_PASSKEY=""
fi

label() { case "$1" in close) echo "HTTP, connection close";; keepalive) echo "HTTP keep-alive";; udp) echo "UDP";; esac; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }'; }
cell() { printf "%s/s, p99 %s ms" "${RATE[$1,$2]}" "${P99[$1,$2]}"; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r !~ /^[0-9.]+$/) print "n/a"; else printf "%s", (r + 0 >= t + 0 ? "met" : "missed") }'; }
target_bt=3
declare -A target_ot=([close]=0.7 [keepalive]=- [udp]=0.6)
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT="results/run-$STAMP.md"
{
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -r), Node $(node -v)," \
       "wrk $(wrk -v 2>&1 | awk 'NR==1 {print $2}'), opentracker $(dpkg-query -W -f '${Version}' opentracker 2>/dev/null || echo '?')," \
       "bittorrent-tracker $(node -p "require('./node_modules/bittorrent-tracker/package.json').version"), privtrak $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Settings: \`bench/run.sh $DURATION\` — ${WARMUP} s warm-up + ${DURATION} s measured per cell, fresh tracker per cell; tracker on core 0, load on core 1;" \
       "HTTP: wrk -t1 -c${CONNS}; UDP: ${UDP_WINDOW} in flight; ${IH_POOL} info_hashes × ${PEER_POOL} peer_ids; numwant ${NUMWANT}."
  echo
  if [ "$SKIP_TRACKERS" != 1 ]; then
  echo "| mode | privtrak | opentracker | bittorrent-tracker | privtrak / opentracker | privtrak / bittorrent-tracker |"
  echo "|---|---|---|---|---|---|"
  for mode in close keepalive udp; do
    r_ot=$(ratio "${RATE[privtrak,$mode]}" "${RATE[opentracker,$mode]}")
    r_bt=$(ratio "${RATE[privtrak,$mode]}" "${RATE[bittorrent-tracker,$mode]}")
    [ "${target_ot[$mode]}" != - ] && r_ot="$r_ot (aim ≥ ${target_ot[$mode]}×: $(verdict "${r_ot%×}" "${target_ot[$mode]}"))"
    r_bt="$r_bt (target ≥ ${target_bt}×: $(verdict "${r_bt%×}" "$target_bt"))"
    echo "| $(label $mode) | $(cell privtrak $mode) | $(cell opentracker $mode) | $(cell bittorrent-tracker $mode) | $r_ot | $r_bt |"
  done
  echo
  echo "Generator check — the same generator against a trivial fixed-reply server and against the fastest tracker:"
  echo
  echo "| mode | trivial server | opentracker | generator CPU at the higher rate |"
  echo "|---|---|---|---|"
  for mode in close keepalive udp; do
    triv=$([ "$mode" = udp ] && echo trivial-udp || echo trivial-http)
    what=$([ "$mode" = udp ] && echo "dgram, fixed reply" || echo "node:http, fixed body")
    hi=$(awk -v a="${RATE[$triv,$mode]}" -v b="${RATE[opentracker,$mode]}" 'BEGIN {print (a >= b ? "t" : "o")}')
    gcpu=$([ "$hi" = t ] && echo "${GCPU[$triv,$mode]}" || echo "${GCPU[opentracker,$mode]}")
    echo "| $(label $mode) | $(cell "$triv" $mode) ($what) | $(cell opentracker $mode) | ${gcpu}% |"
  done
  echo
  fi
  echo
  echo "Every measured cell. CPU: share of one core over the measured run (user+system; the kernel's softirq work for loopback traffic is not included); \"other\" is everything else on the machine (should be ≈0). Errors: wrk socket errors by kind and non-2xx replies, or UDP error replies + lost packets."
  echo
  echo "| server | mode | announces/s | p99 ms | errors | tracker CPU | generator CPU | other CPU |"
  echo "|---|---|---|---|---|---|---|---|"
  for t in trivial-http trivial-udp privtrak opentracker bittorrent-tracker privtrak-pk privtrak+mw privtrak+chain before-pk after-pk before+mw after+mw before+chain after+chain; do
    for mode in close keepalive udp; do
      [ -n "${RATE[$t,$mode]+x}" ] || continue
      echo "| $t | $mode | ${RATE[$t,$mode]} | ${P99[$t,$mode]} | ${ERR[$t,$mode]} | ${TCPU[$t,$mode]:-?}% | ${GCPU[$t,$mode]:-?}% | ${OCPU[$t,$mode]:-?}% |"
    done
  done
  echo
  if [ "$SKIP_TRACKERS" != 1 ]; then
  echo "Memory ($FILL_PEERS distinct peers over $IH_POOL info_hashes, announced over UDP with numwant 0):"
  echo
  echo "| tracker | RSS at start (MB) | RSS after (MB) | announces answered |"
  echo "|---|---|---|---|"
  for t in privtrak opentracker bittorrent-tracker; do echo "| $t | ${RSS[$t]} |"; done
  fi
  if [ "$BENCH_MIDDLEWARE" = 1 ]; then
    echo
    echo "The privtrak hook (SQLite sink), same passkey load, $MW_ROUNDS pairs per mode measured back to back with the bare tracker (order alternating); rates are medians, the cost is the median of the pairs' costs:"
    echo
    echo "| mode | privtrak (no hooks) | privtrak + privtrak hook | cost of each pair | cost, median (target < 15%) |"
    echo "|---|---|---|---|---|"
    for mode in close keepalive udp; do
      pairs=$(for ((round = 1; round <= MW_ROUNDS; round++)); do printf '%s%% ' "${COST_R[$mode,$round]}"; done)
      echo "| $(label $mode) | ${RATE[privtrak-pk,$mode]}/s | ${RATE[privtrak+mw,$mode]}/s | ${pairs% } | **${COST[$mode]}%** ($(awk -v c="${COST[$mode]}" 'BEGIN { print (c + 0 < 15 ? "met" : "missed") }')) |"
    done
    [ "$MW_SIDE" = 1 ] && echo
    [ "$MW_SIDE" = 1 ] && echo "Side by side ($MW_ROUNDS rounds per mode): both trackers at once on core 0, half the load each from core 1, so a drift of the machine hits both alike. Cost per announce in CPU time, all threads of each process counted (median round):"
    [ "$MW_SIDE" = 1 ] && echo
    [ "$MW_SIDE" = 1 ] && echo "| mode | each round: without vs with the hook (announces/s; announces per CPU second) | cost per round | cost, median |"
    [ "$MW_SIDE" = 1 ] && echo "|---|---|---|---|"
    [ "$MW_SIDE" = 1 ] && for mode in close keepalive udp; do
      rounds=$(for ((round = 1; round <= MW_ROUNDS; round++)); do printf '%s<br>' "${SIDE_RATES[$mode,$round]}"; done)
      costs=$(for ((round = 1; round <= MW_ROUNDS; round++)); do printf '%s%% ' "${SIDE_R[$mode,$round]}"; done)
      echo "| $(label $mode) | ${rounds%<br>} | ${costs% } | **${SIDE_COST[$mode]}%** |"
    done
    echo
    echo "Memory per tracked peer (RSS in MB: at start | after the fill | announces answered; one user, 10,000 info_hashes):"
    echo
    echo "| peers | privtrak (no hooks) | privtrak + privtrak hook | hook's extra per peer |"
    echo "|---|---|---|---|"
    for n in $MW_FILL; do
      extra=$(awk -v a="${MWRSS[privtrak-pk,$n]}" -v b="${MWRSS[privtrak+mw,$n]}" -v n="$n" 'BEGIN {
        split(a, x, "|"); split(b, y, "|"); d = (y[2] - y[1]) - (x[2] - x[1]); printf "%.0f bytes", d * 1048576 / n }')
      echo "| $n | ${MWRSS[privtrak-pk,$n]} | ${MWRSS[privtrak+mw,$n]} | $extra |"
    done
  fi
  if [ "$BENCH_ACCESS" = 1 ]; then
    echo
    echo "The full private chain (client_approval, user_approval, torrent_approval, freeleech, privtrak with its SQLite sink; 100,000 users and 100,000 torrents in a file registry); the load announces with $ACCESS_PASSKEYS registered passkeys (peer p with passkey p % $ACCESS_PASSKEYS)$( (( ACCESS_FIXED_IH )) && echo ", each peer on one torrent (p % $IH_POOL: $PEER_POOL peer/torrent pairs)" || echo ", each announce on a random torrent"), $ACCESS_ROUNDS rounds per mode in alternating order; rates and CPU are medians, the chain's cost is the median of the rounds' costs:"
    echo
    echo "| mode | privtrak (no hooks) | privtrak hook alone | full private chain | chain cost vs no hooks, each round | **median** | the access hooks' own cost |"
    echo "|---|---|---|---|---|---|---|"
    for mode in close keepalive udp; do
      a=${RATE[privtrak-pk,$mode]}; b=${RATE[privtrak+mw,$mode]}; c=${RATE[privtrak+chain,$mode]}
      rounds=$(for ((round = 1; round <= ACCESS_ROUNDS; round++)); do printf '%s%% ' "${ACOST_R[$mode,$round]}"; done)
      echo "| $(label $mode) | ${a}/s | ${b}/s | ${c}/s | ${rounds% } | **${ACOST[$mode]}%** | $(awk -v b="$b" -v c="$c" 'BEGIN { if (b > 0) printf "%.1f%%", (1 - c / b) * 100; else print "n/a" }') |"
    done
    echo
    echo "CPU per announce at saturation, µs (median): the whole tracker process / its main thread (the event loop; the rest is the SQLite sink's writer thread, libuv and V8's helper threads):"
    echo
    echo "| mode | privtrak (no hooks) | privtrak hook alone | full private chain |"
    echo "|---|---|---|---|"
    for mode in close keepalive udp; do
      echo "| $(label $mode) | ${AUS[privtrak-pk,$mode]} / ${AMUS[privtrak-pk,$mode]} | ${AUS[privtrak+mw,$mode]} / ${AMUS[privtrak+mw,$mode]} | ${AUS[privtrak+chain,$mode]} / ${AMUS[privtrak+chain,$mode]} |"
    done
    echo
    echo "RSS at start: no hooks ${CHAINRSS[privtrak-pk]:-?} MB, full chain with the registry loaded ${CHAINRSS[privtrak+chain]:-?} MB."
    if [ -n "${FLOOR:-}" ]; then
      echo
      echo "$FLOOR"
      echo
      echo "On one core the chain cannot cost less than the sink's own share: where it is above 15%, point 3 is out of reach while the writer shares the tracker's core."
    fi
  fi
  if [ -n "$BENCH_BEFORE" ]; then
    echo
    echo "Before/after: this build against $(git -C "$BENCH_BEFORE" rev-parse --short HEAD 2>/dev/null || echo "$BENCH_BEFORE"), $([ "$AB_LOAD" = access ] && echo "the access load ($ACCESS_PASSKEYS passkeys$( (( ACCESS_FIXED_IH )) && echo ", each peer on one torrent"))" || echo "passkey load"), $MW_ROUNDS pairs per mode back to back (order alternating); rates are medians, the change is the median of the pairs' changes (+ = this build is faster):"
    echo
    echo "| configuration | mode | before | after | change of each pair | change, median |"
    echo "|---|---|---|---|---|---|"
    for conf in $AB_CONFS; do
      ab_pair "$conf"
      for mode in $AB_MODES; do
        pairs=$(for ((round = 1; round <= MW_ROUNDS; round++)); do printf '%s%% ' "${AB_R[$conf,$mode,$round]}"; done)
        echo "| $name | $(label $mode) | ${RATE[$was,$mode]}/s | ${RATE[$now,$mode]}/s | ${pairs% } | **${AB[$conf,$mode]}%** |"
      done
    done
  fi
} > "$OUT"
cp "$OUT" results/latest.md
cat "$OUT"
echo >&2; echo "written: bench/$OUT and bench/results/latest.md" >&2
