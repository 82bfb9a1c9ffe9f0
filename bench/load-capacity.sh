#!/usr/bin/env bash
# Capacity steps with tandem-load (docs/benchmarks.md): for each step a fresh release server
# on loopback (bench/load.conf), one tandem-load run against it, the server stopped by its
# PID. Prints one line per step and keeps each step's JSON in $OUT.
#
#   bench/load-capacity.sh [--build DIR] [--out DIR] [--duration S] [--audio-only]
#                          [--tcp] [--threads T] [--workers W] -- N1 N2 ...   (1:1 calls)
#   bench/load-capacity.sh ... --rooms-of G -- R1 R2 ...                       (rooms of G)
#   bench/load-capacity.sh ... --fanout -- S1 S2 ...                           (1 to S)
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-release
out=$(mktemp -d /tmp/tandem-capacity-XXXXXX)
duration=10
extra=()
mode=calls
group=0
workers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --audio-only | --tcp) extra+=("$1"); shift ;;
    --threads) extra+=(--threads "$2"); shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --rooms-of) mode=rooms; group=$2; shift 2 ;;
    --fanout) mode=fanout; shift ;;
    --) shift; break ;;
    *) echo "unknown option $1 (see the head of $0)"; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "give the steps after --"; exit 2; }
for bin in "$build/tandem" "$build/tandem-load"; do
  [ -x "$bin" ] || { echo "$bin not built: cmake -S . -B $build -DCMAKE_BUILD_TYPE=Release && cmake --build $build"; exit 2; }
done
mkdir -p "$out"
tmp=$(mktemp -d /tmp/tandem-capacity-run-XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
port=${TANDEM_BENCH_PORT:-18443}
media_port=${TANDEM_BENCH_MEDIA_PORT:-18500}
printf '%-8s %6s %6s %9s %9s %8s %8s %8s %8s %9s %9s %9s %8s %6s\n' step conns failed sent received \
  loss% p50ms p99ms maxms srv_cpu% us/pkt srv_MiB me_cpu% load
for n in "$@"; do
  "$build/tandem" --listen 127.0.0.1 --port "$port" --cert "$tmp/cert.pem" --key "$tmp/key.pem" \
    --web-root web --invite-key "$tmp/invite.key" --invite-ledger "" --media-address 127.0.0.1 \
    --media-port-base "$media_port" ${workers:+--media-workers "$workers"} \
    --config bench/load.conf 2>"$tmp/server-$n.log" &
  server_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$tmp/server-$n.log" && break; sleep 0.1; done
  case $mode in
    calls) scen=(--calls "$n") ;;
    rooms) scen=(--rooms "$n" --group "$group") ;;
    fanout) scen=(--subscribers "$n") ;;
  esac
  "$build/tandem-load" --url "wss://127.0.0.1:$port/ws" --invite-key "$tmp/invite.key" \
    --server-pid "$server_pid" "${scen[@]}" "${extra[@]}" --duration "$duration" --quiet \
    --json "$out/$mode-$n.json" >/dev/null || true
  kill "$server_pid"
  wait "$server_pid" || true
  server_pid=""
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const f = (v, d) => Number(v).toFixed(d);
    console.log([process.argv[2].padEnd(8), String(r.connections_up).padStart(6),
      String(r.connections_failed).padStart(6), String(r.packets_sent).padStart(9),
      String(r.packets_received).padStart(9), f(r.loss_pct, 3).padStart(8),
      f(r.delay_ms.p50, 2).padStart(8), f(r.delay_ms.p99, 2).padStart(8), f(r.delay_ms.max, 1).padStart(8),
      f(r.server.cpu_pct, 1).padStart(9), f(r.server.us_per_packet, 2).padStart(9),
      f(r.server.vmhwm_kib / 1024, 1).padStart(9), f(r.client_cpu_pct, 1).padStart(8),
      f(r.machine.load_before, 1).padStart(6)].join(" "));
  ' "$out/$mode-$n.json" "$mode-$n"
done
echo "JSON of every step: $out"
