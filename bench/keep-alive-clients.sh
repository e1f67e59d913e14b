#!/usr/bin/env bash
# Keep-alive on or off, against the way real clients talk to an HTTP tracker (issue 14, point 5).
#
# What the clients do (../shared/samples/http-announces.txt, captured from Debian's clients):
#   - qBittorrent 4.5.2 (libtorrent) sends "Connection: close" with every announce;
#   - Transmission 3.00 (libcurl) and aria2 1.36 send HTTP/1.1 without it: they keep the connection
#     when the tracker allows, and reuse it for the next request to the same tracker (a client
#     starting with many torrents announces them all at once; scrapes follow announces).
# This bench plays both with curl itself, i.e. with libcurl: one curl process announcing TORRENTS
# torrents of one user in a row, as a client starting up does, sequentially and PARALLEL at a time
# (libcurl's multi interface, as Transmission uses it), with and without "Connection: close".
# For each, the tracker runs with http.keep_alive false and true, in alternating rounds (ROUNDS),
# everything else as config.example.yaml ships it plus its access hooks (user_approval,
# torrent_approval, privtrak with the SQLite sink) over a registry of 100,000 users and torrents.
# Reports announces per second (median of the rounds), the TCP connections the client opened
# (curl's num_connects), and the tracker's CPU time per announce.
#
# usage: bench/keep-alive-clients.sh    (environment, defaults: TORRENTS=2000 ROUNDS=3 PARALLEL=8 PORT=7131 METRICS_PORT=7132)
# needs: curl, taskset, node, 2+ cores; privtrak built. Traffic: 127.0.0.1 only; every step bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=tracker-process.sh
. ./tracker-process.sh

TORRENTS="${TORRENTS:-2000}"
ROUNDS="${ROUNDS:-3}"
PARALLEL="${PARALLEL:-8}"
PORT="${PORT:-7131}"
METRICS_PORT="${METRICS_PORT:-7132}"
die() { echo "keep-alive-clients.sh: $*" >&2; exit 1; }
for v in TORRENTS ROUNDS PARALLEL PORT METRICS_PORT; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number"; done
(( TORRENTS >= 1 && TORRENTS <= 100000 )) || die "TORRENTS must be 1..100000"
(( ROUNDS >= 1 && ROUNDS <= 9 )) || die "ROUNDS must be 1..9"
(( $(nproc) >= 2 )) || die "needs 2 cores (tracker on core 0, client on core 1)"
for cmd in curl taskset node timeout; do command -v "$cmd" >/dev/null || die "missing: $cmd"; done
[ -f ../dist/src/cli/main.js ] || die "privtrak is not built: run 'npm run build' at the repository root"

RUN_DIR=$(mktemp -d)
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && sleep 0.5 && kill -9 "$PID" 2>/dev/null
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

node make-registry.mjs "$RUN_DIR/registry" 100000 100000 >&2
PASSKEY=$(awk -F, 'NR > 1 && $3 == "true" && $4 == "true" {print $1; exit}' "$RUN_DIR/registry/users.csv")
# One curl config per client: TORRENTS announces of one user, torrent i = the i-th of hashes.mjs.
node hashes.mjs "$TORRENTS" | awk -v pk="$PASSKEY" -v port="$PORT" '{
  ih = ""; for (i = 1; i <= 40; i += 2) ih = ih "%" substr($0, i, 2)
  printf "url = \"http://127.0.0.1:%d/%s/announce?info_hash=%s&peer_id=-TR3000-%012d&port=51413&uploaded=0&downloaded=0&left=1000&event=started&numwant=50&compact=1&key=1234\"\noutput = \"/dev/null\"\n", port, pk, ih, NR
}' > "$RUN_DIR/urls.cfg"

start_tracker() { # $1 keep_alive
  rm -rf "$RUN_DIR/journal" "$RUN_DIR"/privtrak.sqlite* "$RUN_DIR/user-key.secret"
  cat > "$RUN_DIR/pt.yaml" <<YAML
metrics_addr: "127.0.0.1:$METRICS_PORT"
user_key_secret: "$RUN_DIR/user-key.secret"
http: {addr: "127.0.0.1:$PORT", keep_alive: $1}
udp: {addr: "127.0.0.1:$PORT"}
registry: {source: file, users: "$RUN_DIR/registry/users.csv", torrents: "$RUN_DIR/registry/torrents.csv"}
prehooks:
  - name: user_approval
  - name: torrent_approval
  - name: privtrak
    options: {journal_dir: "$RUN_DIR/journal", sink: {name: sqlite, path: "$RUN_DIR/privtrak.sqlite"}}
YAML
  taskset -c 0 node $PT_NODE_FLAGS ../dist/src/cli/main.js serve --config "$RUN_DIR/pt.yaml" >"$RUN_DIR/log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do
    kill -0 "$PID" 2>/dev/null || break
    curl -sf -m 1 "http://127.0.0.1:$METRICS_PORT/metrics" >/dev/null && return 0
    sleep 0.1
  done
  echo "privtrak did not start:" >&2; cat "$RUN_DIR/log" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)

# One client run: prints "announces_per_s connections tracker_cpu_us_per_announce ok".
client() { # $1 close|reuse, $2 seq|par
  local args=(-s --no-progress-meter -K "$RUN_DIR/urls.cfg" -w '%{http_code} %{num_connects}\n')
  [ "$1" = close ] && args+=(-H 'Connection: close')
  [ "$2" = par ] && args+=(--parallel --parallel-immediate --parallel-max "$PARALLEL")
  local c0 c1 t0 t1
  c0=$(cpu_ticks "$PID"); t0=$(date +%s.%N)
  timeout 120 taskset -c 1 curl "${args[@]}" > "$RUN_DIR/curl.out" || die "curl failed"
  t1=$(date +%s.%N); c1=$(cpu_ticks "$PID")
  awk -v n="$TORRENTS" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$CLK_TCK" '
    {conns += $2; if ($1 == 200) ok++}
    END {printf "%.0f %d %.0f %d\n", n / (t1 - t0), conns, (c1 - c0) / hz * 1e6 / n, ok}' "$RUN_DIR/curl.out"
}

CLIENTS="close:seq close:par reuse:seq reuse:par"
declare -A RES
for round in $(seq "$ROUNDS"); do
  # Alternate which setting goes first, so drift in the machine's speed falls on both.
  order="false true"; (( round % 2 == 0 )) && order="true false"
  for ka in $order; do
    start_tracker "$ka"
    for c in $CLIENTS; do
      r=$(client "${c%%:*}" "${c##*:}")
      read -r _ _ _ ok <<<"$r"
      (( ok == TORRENTS )) || die "keep_alive=$ka $c: $ok of $TORRENTS answered 200: $(grep -v '^200' "$RUN_DIR/curl.out" | head -3)"
      RES[$ka,$c]+="$r;"
      echo "round $round keep_alive=$ka $c: $r" >&2
    done
    stop_tracker
  done
done

median() { tr ';' '\n' | awk -v f="$1" 'NF {print $f}' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "Keep-alive against real client behaviour, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores, Node $(node -v), privtrak $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
echo "\`TORRENTS=$TORRENTS ROUNDS=$ROUNDS PARALLEL=$PARALLEL bench/keep-alive-clients.sh\`: one curl (libcurl $(curl --version | head -1 | awk '{print $2}')) announcing $TORRENTS torrents of one user; the private chain of config.example.yaml with its access hooks; tracker on core 0, curl on core 1; median of $ROUNDS alternating rounds."
echo
echo "| client (as) | http.keep_alive | announces/s | TCP connections | tracker CPU µs per announce |"
echo "|---|---|---:|---:|---:|"
for c in $CLIENTS; do
  case $c in
    close:seq) what="\"Connection: close\", one at a time (libtorrent/qBittorrent)";;
    close:par) what="\"Connection: close\", $PARALLEL at a time (libtorrent/qBittorrent)";;
    reuse:seq) what="HTTP/1.1, one at a time (libcurl/Transmission, aria2)";;
    reuse:par) what="HTTP/1.1, $PARALLEL at a time (libcurl multi/Transmission)";;
  esac
  for ka in false true; do
    echo "| $what | $ka | $(median 1 <<<"${RES[$ka,$c]}") | $(median 2 <<<"${RES[$ka,$c]}") | $(median 3 <<<"${RES[$ka,$c]}") |"
  done
done
