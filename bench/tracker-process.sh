# Sourced by the bench scripts (run.sh, open-loop.sh, memory-run.sh, keep-alive-clients.sh): whether a
# port is taken, and stopping the tracker a script started ($PID). Needs: ss.

# The node flags privtrak runs with, as `npm start` and the systemd unit start it (a young generation of
# 32 MB semi-spaces, no memory reducer: src/cli/gc-flags.ts). PT_NODE_FLAGS="" measures V8's default instead.
PT_NODE_FLAGS="${PT_NODE_FLAGS---max-semi-space-size=32 --no-memory-reducer}"

# port_busy [PORT]: true if something listens on PORT (TCP or UDP; default $PORT).
port_busy() { ss -Htlnu "( sport = :${1:-$PORT} )" 2>/dev/null | grep -q .; }

# Stops $PID: SIGTERM, up to 10 s to exit (a tracker flushes its deltas, and under --cpu-prof writes its
# profile), then SIGKILL; then waits up to 5 s for $PORT to be free, so the next tracker can bind it.
stop_tracker() {
  [ -n "$PID" ] || return 0
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  for _ in $(seq 50); do port_busy || break; sleep 0.1; done
}
