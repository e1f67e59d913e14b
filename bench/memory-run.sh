#!/usr/bin/env bash
# The memory run (issue 14, point 2): RSS per peer of privtrak (bare memory store), privtrak with the
# full private chain (access hooks + the privtrak hook: its baselines counted too), opentracker and
# the npm bittorrent-tracker server, one after the other. Each tracker starts fresh, is filled over
# UDP with N distinct peers by bench/udp-load.c's fill mode (peer p announces once, torrent
# (p % IH_POOL) + 1, peer_id -BE0001-<p>, half of them seeders, numwant 0; chunks of 50,000 peers
# from their own 127.0.1.x source address, so opentracker, which keys peers by IP:port, sees them
# distinct too), and its RSS (/proc/PID/status VmRSS) is read at start, half way and after the fill.
# Bytes per peer = (after - start) / peers; the marginal figure = (after - half) / (peers in the
# second half), which leaves out what serving a load costs once whatever the number of peers.
#
# usage: bench/memory-run.sh                 (one command; prints the table, writes bench/results/memory-<time>.md)
# environment (defaults): PEERS=1000000 BT_PEERS=250000 IH_POOL=1000 PORT=7191
#   TRACKERS="privtrak privtrak+chain opentracker bittorrent-tracker"
#   PRIVTRAK_DIR=<repository root>  a built privtrak checkout to measure (e.g. main, for before/after);
#   PRIVTRAK_REV=<its git HEAD>     the revision to print when PRIVTRAK_DIR is not a git checkout
#   FILL_TIMEOUT=900                seconds a tracker's whole fill may take; the rest is skipped
# bittorrent-tracker is filled with BT_PEERS (fewer): it takes ~5k announces/s on this VM and keeps
# an object graph per peer, so a million would take minutes and gigabytes for the same per-peer figure.
# needs: opentracker (Debian), cc, node; privtrak built (npm run build); bench/node_modules (installed
# here if missing: npm install --ignore-scripts). Traffic: 127.0.0.1 only; every step bounded in time.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=tracker-process.sh
. ./tracker-process.sh

PEERS="${PEERS:-1000000}"
BT_PEERS="${BT_PEERS:-250000}"
IH_POOL="${IH_POOL:-1000}"
PORT="${PORT:-7191}"
TRACKERS="${TRACKERS:-privtrak privtrak+chain opentracker bittorrent-tracker}"
PRIVTRAK_DIR="$(cd "${PRIVTRAK_DIR:-..}" && pwd)"
FILL_TIMEOUT="${FILL_TIMEOUT:-900}"
PASSKEY=0123456789abcdef0123456789abcdef # the registry's first user (make-registry.mjs)

die() { echo "memory-run.sh: $*" >&2; exit 1; }
for v in PEERS BT_PEERS IH_POOL PORT FILL_TIMEOUT; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"; done
(( PEERS >= 1 && PEERS <= 5000000 && BT_PEERS >= 1 && BT_PEERS <= 5000000 )) || die "PEERS and BT_PEERS must be 1..5,000,000"
(( IH_POOL >= 1 && IH_POOL <= 100000 )) || die "IH_POOL must be 1..100,000"
for cmd in cc node ss; do command -v "$cmd" >/dev/null || die "missing: $cmd"; done
[[ " $TRACKERS " != *" opentracker "* ]] || command -v opentracker >/dev/null || die "missing: opentracker (apt-get install opentracker)"
[ -f "$PRIVTRAK_DIR/dist/src/cli/main.js" ] || die "no built privtrak in $PRIVTRAK_DIR (npm run build)"

mkdir -p bin results
cc -O2 -Wall -o bin/udp-load udp-load.c
[ -d node_modules/bittorrent-tracker ] || npm install --ignore-scripts --no-audit --no-fund >/dev/null
node hashes.mjs "$IH_POOL" > results/whitelist.txt
chmod 755 results; chmod 644 results/whitelist.txt # opentracker chroots into results/ as "nobody"

RUN_DIR=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$RUN_DIR"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
port_busy && die "port $PORT is already in use (set PORT=...)"
node make-registry.mjs "$RUN_DIR/registry" 1000 "$IH_POOL" >/dev/null

pt_config() { # $1: bare | chain
  cat <<YAML
log_level: warn
metrics_addr: ""
http: {addr: "127.0.0.1:$PORT", announce_routes: ["/announce", "/:passkey/announce"]}
udp: {addr: "127.0.0.1:$PORT"}
YAML
  if [ "$1" = chain ]; then cat <<YAML
registry: {source: file, users: "$RUN_DIR/registry/users.csv", torrents: "$RUN_DIR/registry/torrents.csv"}
prehooks:
  - {name: client_approval, options: {deny: [-TR2]}}
  - {name: user_approval}
  - {name: torrent_approval}
  - {name: freeleech}
  - name: privtrak
    options: {journal_dir: "$RUN_DIR/journal", sink: {name: sqlite, path: "$RUN_DIR/privtrak.sqlite"}}
YAML
  else
    echo "prehooks: []"
  fi
}

start_tracker() { # $1 name -> PID; returns 1 if it did not come up
  rm -rf "$RUN_DIR/journal" "$RUN_DIR"/privtrak.sqlite*
  case "$1" in
    privtrak) pt_config bare > "$RUN_DIR/pt.yaml"
      node $PT_NODE_FLAGS "$PRIVTRAK_DIR/dist/src/cli/main.js" serve --config "$RUN_DIR/pt.yaml" >"$RUN_DIR/log" 2>&1 & ;;
    privtrak+chain) pt_config chain > "$RUN_DIR/pt.yaml"
      node $PT_NODE_FLAGS "$PRIVTRAK_DIR/dist/src/cli/main.js" serve --config "$RUN_DIR/pt.yaml" >"$RUN_DIR/log" 2>&1 & ;;
    opentracker)
      opentracker -i 127.0.0.1 -p "$PORT" -P "$PORT" -w whitelist.txt -d "$PWD/results" -u nobody >"$RUN_DIR/log" 2>&1 & ;;
    bittorrent-tracker) node bt-tracker.mjs "$PORT" >"$RUN_DIR/log" 2>&1 & ;;
    *) die "unknown tracker $1" ;;
  esac
  PID=$!
  for _ in $(seq 150); do
    kill -0 "$PID" 2>/dev/null || break
    if port_busy; then sleep 1; return 0; fi
    sleep 0.1
  done
  echo "$1 did not start:" >&2; cat "$RUN_DIR/log" >&2
  stop_tracker; return 1
}


rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# Peers first..last of a run of `total` in chunks of 50,000, each chunk from its own source address
# (chunk k of the run always from the same one); stops at FILL_TIMEOUT. Appends to $RUN_DIR/fill.
FILL_T0=0
fill() { # $1 first, $2 last, $3 total, $4 passkey ("" for none)
  local first chunk n
  for ((first = $1; first <= $2; first += 50000)); do
    if (( SECONDS - FILL_T0 > FILL_TIMEOUT )); then echo "  fill stopped after ${FILL_TIMEOUT}s" >&2; break; fi
    kill -0 "$PID" 2>/dev/null || { echo "  the tracker died during the fill" >&2; break; }
    chunk=$(( (first - 1) / 50000 + 1 ))
    n=$(( $2 - first + 1 < 50000 ? $2 - first + 1 : 50000 ))
    bin/udp-load 127.0.0.1 "$PORT" 120 64 "$IH_POOL" "$3" 0 fill "$n" from "$first" \
      srcip "127.0.$(( 1 + (chunk - 1) / 250 )).$(( 1 + (chunk - 1) % 250 ))" ${4:+passkey "$4"} >>"$RUN_DIR/fill" 2>&1 || true
  done
}
fill_ok() { awk '{for (i=1;i<=NF;i++) {split($i,kv,"="); if (kv[1]=="ok") s+=kv[2]}} END {print s+0}' "$RUN_DIR/fill"; }

REV=${PRIVTRAK_REV:-$(git -C "$PRIVTRAK_DIR" rev-parse --short HEAD 2>/dev/null || echo "?")}
STAMP=$(date -u +%Y-%m-%dT%H%MZ)
ROWS=()
echo "memory run: $PEERS peers (bittorrent-tracker $BT_PEERS) over $IH_POOL torrents; privtrak from $PRIVTRAK_DIR ($REV)" >&2
for t in $TRACKERS; do
  n=$PEERS; [ "$t" = bittorrent-tracker ] && n=$BT_PEERS
  key=""; [ "$t" = privtrak+chain ] && key=$PASSKEY
  if ! start_tracker "$t"; then ROWS+=("| $t | did not start | | | | |"); continue; fi
  start=$(rss_kb "$PID"); FILL_T0=$SECONDS
  : > "$RUN_DIR/fill"
  # Half way (at a chunk boundary) the RSS is read too: (after - mid) / (peers in between) is the
  # marginal cost of a peer, without what serving the load costs once (buffers, heap growth).
  half=$(( n / 2 / 50000 * 50000 ))
  mid=0
  if (( half > 0 )); then fill 1 "$half" "$n" "$key"; sleep 3; mid=$(rss_kb "$PID"); mid_ok=$(fill_ok); fi
  fill $(( half + 1 )) "$n" "$n" "$key"
  sleep 3 # replies are sent before the swarm is updated; let the last announces settle
  ok=$(fill_ok)
  if kill -0 "$PID" 2>/dev/null; then after=$(rss_kb "$PID"); else after=0; fi
  row=$(awk -v t="$t" -v s="$start" -v m="$mid" -v a="$after" -v ok="$ok" -v mok="${mid_ok:-0}" -v secs="$((SECONDS - FILL_T0))" 'BEGIN {
    per = (ok > 0 && a > 0) ? sprintf("%.0f", (a - s) * 1024 / ok) : "n/a";
    marg = (m > 0 && a > 0 && ok > mok) ? sprintf("%.0f", (a - m) * 1024 / (ok - mok)) : "n/a";
    printf "| %s | %d | %.0f MB | %s | %.0f MB | **%s** | %s | %d s |", t, ok, s / 1024, (m > 0 ? sprintf("%.0f MB", m / 1024) : "–"), a / 1024, per, marg, secs }')
  ROWS+=("$row")
  echo "  $row  ($(awk '{printf "%s; ", $0}' "$RUN_DIR/fill" | head -c 300))" >&2
  stop_tracker
done

{
  echo "memory run $STAMP, privtrak \`$REV\` ($PRIVTRAK_DIR), $IH_POOL torrents, UDP fill, numwant 0"
  echo
  echo "| tracker | peers announced (ok) | RSS at start | RSS at half | RSS after | bytes per peer | marginal, second half | fill time |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "results/memory-$STAMP.md"
