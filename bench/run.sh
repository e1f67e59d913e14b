#!/usr/bin/env bash
# Runs privtrak, opentracker (Debian package) and the npm bittorrent-tracker side by side, in one run:
# each tracker pinned to core 0 (taskset -c 0), the load generator to core 1. Modes: HTTP with
# "Connection: close", HTTP keep-alive, UDP. Also: the generators against trivial fixed-reply servers
# (to show they are not the bottleneck), privtrak with the privtrak middleware on (SQLite sink), and
# RSS after loading 100k distinct peers.
#
# usage: bench/run.sh [DURATION_S=10]   (needs: wrk, opentracker, cc; run `npm install` at the root
#        and `npm install --ignore-scripts` in bench/ first). Writes bench/results/latest.md.
set -euo pipefail
cd "$(dirname "$0")"
DURATION="${1:-10}"
WARMUP=2
PORT=7101
IH_POOL=1000
PEER_POOL=100000
CONNS=64
UDP_WINDOW=64   # announces in flight: more only queues (latency) without more throughput
export IH_POOL PEER_POOL NUMWANT=50
PASSKEY=0123456789abcdef0123456789abcdef
mkdir -p bin results
cc -O2 -o bin/udp-load udp-load.c
[ -d node_modules/bittorrent-tracker ] || npm install --ignore-scripts --no-audit --no-fund >/dev/null
node hashes.mjs "$IH_POOL" > results/whitelist.txt
# opentracker chroots into results/ and drops to "nobody" (it refuses to keep root), so both must be readable.
chmod 755 results; chmod 644 results/whitelist.txt
RUN_DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$RUN_DIR"' EXIT

pt_config() { # $1 keep_alive, $2 with privtrak hook
  cat <<YAML
log_level: warn
metrics_addr: ""
http: {addr: "127.0.0.1:$PORT", keep_alive: $1}
udp: {addr: "127.0.0.1:$PORT"}
YAML
  if [ "$2" = yes ]; then cat <<YAML
prehooks:
  - name: privtrak
    options: {journal_dir: "$RUN_DIR/journal", sink: {name: sqlite, path: "$RUN_DIR/privtrak.sqlite"}}
YAML
  fi
}

start_tracker() { # $1 name, $2 keep_alive -> sets PID
  rm -rf "$RUN_DIR/journal" "$RUN_DIR"/privtrak.sqlite*
  case "$1" in
    privtrak) pt_config "$2" no > "$RUN_DIR/pt.yaml"; taskset -c 0 node ../dist/src/cli/main.js serve --config "$RUN_DIR/pt.yaml" >"$RUN_DIR/log" 2>&1 & ;;
    privtrak+mw) pt_config "$2" yes > "$RUN_DIR/pt.yaml"; taskset -c 0 node ../dist/src/cli/main.js serve --config "$RUN_DIR/pt.yaml" >"$RUN_DIR/log" 2>&1 & ;;
    opentracker) taskset -c 0 opentracker -i 127.0.0.1 -p "$PORT" -P "$PORT" -w whitelist.txt -d "$PWD/results" -u nobody >"$RUN_DIR/log" 2>&1 & ;;
    bittorrent-tracker) taskset -c 0 node bt-tracker.mjs "$PORT" >"$RUN_DIR/log" 2>&1 & ;;
    trivial-http) taskset -c 0 node trivial-http.mjs "$PORT" >"$RUN_DIR/log" 2>&1 & ;;
    trivial-udp) taskset -c 0 node trivial-udp.mjs "$PORT" >"$RUN_DIR/log" 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 50); do
    if ss -ltnu 2>/dev/null | grep -q ":$PORT "; then sleep 0.3; return 0; fi
    sleep 0.1
  done
  echo "$1 did not start:"; cat "$RUN_DIR/log"; exit 1
}

stop_tracker() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; sleep 0.3; }

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

http_load() { # $1 close|keepalive, $2 seconds -> "rate p99_ms"
  local extra=()
  [ "$1" = close ] && extra=(-H "Connection: close")
  local path=/announce
  taskset -c 1 wrk -t1 -c"$CONNS" -d"$2"s --latency "${extra[@]}" -s http-announce.lua "http://127.0.0.1:$PORT" >"$RUN_DIR/wrk" 2>&1 || true
  local rate p99
  rate=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$RUN_DIR/wrk")
  p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; printf "%.2f", v}' "$RUN_DIR/wrk")
  echo "${rate:-0} ${p99:-nan}"
}

udp_load() { # $1 seconds -> "rate p99_ms"
  taskset -c 1 bin/udp-load 127.0.0.1 "$PORT" "$1" "$UDP_WINDOW" "$IH_POOL" "$PEER_POOL" 50 ${UDP_PASSKEY:+passkey $UDP_PASSKEY} >"$RUN_DIR/udp" 2>&1 || true
  awk '{for (i=1;i<=NF;i++) {split($i,kv,"="); m[kv[1]]=kv[2]}} END {printf "%s %.2f\n", m["rate"], m["p99_us"]/1000}' "$RUN_DIR/udp"
}

declare -A RATE P99 RSS
measure() { # $1 tracker name
  local t=$1
  for mode in close keepalive udp; do
    [[ "$t" == trivial-udp && "$mode" != udp ]] && continue
    [[ "$t" == trivial-http && "$mode" == udp ]] && continue
    start_tracker "$t" $([ "$mode" = keepalive ] && echo true || echo false)
    if [ "$mode" = udp ]; then udp_load "$WARMUP" >/dev/null; read -r r p < <(udp_load "$DURATION")
    else http_load "$mode" "$WARMUP" >/dev/null; read -r r p < <(http_load "$mode" "$DURATION"); fi
    RATE[$t,$mode]=$r; P99[$t,$mode]=$p
    echo "  $t $mode: ${r}/s p99 ${p} ms" >&2
    stop_tracker
  done
}

export UDP_PASSKEY=""
for t in trivial-http trivial-udp privtrak opentracker bittorrent-tracker; do
  echo "measuring $t" >&2
  measure "$t"
done
# The middleware needs a passkey: announce to /<passkey>/announce (HTTP) and with BEP 41 URL data (UDP).
pt_config false yes > "$RUN_DIR/check.yaml"
if node ../dist/src/cli/main.js check-config --config "$RUN_DIR/check.yaml" >/dev/null 2>&1; then
  echo "measuring privtrak with the privtrak middleware (SQLite sink)" >&2
  export PASSKEY UDP_PASSKEY=$PASSKEY
  measure privtrak+mw
  unset PASSKEY; export UDP_PASSKEY=""
else
  echo "privtrak hook not available in this build: skipping the middleware comparison" >&2
fi

# Memory: RSS after 100k distinct peers (over 1000 info_hashes), announced over UDP.
for t in privtrak opentracker bittorrent-tracker; do
  start_tracker "$t" false
  before=$(rss_mb "$PID")
  taskset -c 1 bin/udp-load 127.0.0.1 "$PORT" 120 64 "$IH_POOL" 100000 0 fill 100000 >"$RUN_DIR/fill" 2>&1
  sleep 1
  RSS[$t]="$before → $(rss_mb "$PID")"
  echo "  $t RSS: ${RSS[$t]} MB ($(cat "$RUN_DIR/fill"))" >&2
  stop_tracker
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "n/a" }'; }
{
  echo "| mode | privtrak | opentracker | bittorrent-tracker | privtrak / opentracker | privtrak / bittorrent-tracker | trivial server (generator ceiling) |"
  echo "|---|---|---|---|---|---|---|"
  for mode in close keepalive udp; do
    triv=${RATE[trivial-http,$mode]:-${RATE[trivial-udp,$mode]:-}}
    label=$([ "$mode" = close ] && echo "HTTP, connection close" || ([ "$mode" = keepalive ] && echo "HTTP keep-alive" || echo "UDP"))
    echo "| $label | ${RATE[privtrak,$mode]}/s (p99 ${P99[privtrak,$mode]} ms) | ${RATE[opentracker,$mode]}/s (p99 ${P99[opentracker,$mode]} ms) | ${RATE[bittorrent-tracker,$mode]}/s (p99 ${P99[bittorrent-tracker,$mode]} ms) | $(ratio "${RATE[privtrak,$mode]}" "${RATE[opentracker,$mode]}") | $(ratio "${RATE[privtrak,$mode]}" "${RATE[bittorrent-tracker,$mode]}") | ${triv}/s |"
  done
  echo
  echo "| mode | privtrak | privtrak + privtrak middleware (SQLite) | cost |"
  echo "|---|---|---|---|"
  for mode in close keepalive udp; do
    echo "| $mode | ${RATE[privtrak,$mode]}/s | ${RATE[privtrak+mw,$mode]}/s | $(awk -v a="${RATE[privtrak,$mode]}" -v b="${RATE[privtrak+mw,$mode]}" 'BEGIN { printf "%.1f%%", (1 - b / a) * 100 }') |"
  done
  echo
  echo "| tracker | RSS before → after 100k peers (MB) |"
  echo "|---|---|"
  for t in privtrak opentracker bittorrent-tracker; do echo "| $t | ${RSS[$t]} |"; done
} | tee results/latest.md
