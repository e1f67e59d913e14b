#!/usr/bin/env bash
# What Redis itself charges, in CPU per call, before privtrak's function does anything (issue 13:
# at most 10 µs of Redis CPU per announce). A private redis-server on a free loopback port, a
# library of trivial functions, and redis-benchmark (pinned to core 1) sending each command on its
# own (-P 1: one read and one write per command, as a lone announce) and 16 at a time (-P 16):
#   PING; FCALL of an empty function; FCALL of a function doing one HGET; a plain HGET.
# CPU per call is the server's used_cpu_user + used_cpu_sys (INFO cpu) over the run / calls.
# Run it beside bench/redis-fcall-cost.mjs and bench/shared-redis.mjs: the machine's speed
# varies between sessions (BENCHMARKS.md), so compare figures from the same run only.
# usage: bench/redis-floor.sh [calls per row, default 200000]   needs: redis-server, redis-benchmark, taskset
set -euo pipefail
N="${1:-200000}"
PORT=$(( 20000 + RANDOM % 20000 ))
DIR=$(mktemp -d)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --dir "$DIR" --logfile "$DIR/log" --pidfile "$DIR/pid"
trap 'redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$PORT" FUNCTION LOAD REPLACE "#!lua name=floor
redis.register_function('noop', function(keys, args) return 1 end)
redis.register_function('one_hget', function(keys, args) return redis.call('HGET', keys[1], 'x') end)" >/dev/null
redis-cli -p "$PORT" HSET h x 1 >/dev/null

cpu() { redis-cli -p "$PORT" info cpu | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.6f", s }'; }
echo "| command | µs of Redis CPU per call, sent one at a time (-P 1) | 16 at a time (-P 16) |"
echo "|---|---:|---:|"
for cmd in "PING" "FCALL noop 0" "FCALL one_hget 1 h" "HGET h x"; do
  row="| \`$cmd\` |"
  for p in 1 16; do
    c0=$(cpu)
    # shellcheck disable=SC2086 # the command's words are meant to split
    taskset -c 1 redis-benchmark -p "$PORT" -n "$N" -c 32 -P "$p" -q $cmd >/dev/null 2>&1
    c1=$(cpu)
    row="$row $(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }') |"
  done
  echo "$row"
done
