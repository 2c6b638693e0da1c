#!/usr/bin/env bash
# The main job: sets up, starts the embedded local cluster, deploys
# examples/quickstart.yaml, measures it with ping and iperf3, prints the
# measured rate beside the configured one, and tears everything down.
set -euo pipefail

cd "$(dirname "$0")/.."
deploy/setup.sh
export PATH=${EMU_BIN_DIR:-/usr/local/bin}:$PATH

LAB=quickstart
step() { printf '\n==> %s\n' "$*"; }

cleanup() {
  step "tearing down"
  emuctl down "$LAB" >/dev/null 2>&1 || true
  emuctl local stop || true
}
trap cleanup EXIT

step "starting the local cluster (controller + 1 agent on this machine)"
emuctl local stop >/dev/null 2>&1 || true
emuctl local start
emuctl hosts

step "deploying examples/quickstart.yaml"
emuctl up examples/quickstart.yaml
emuctl status "$LAB"

step "ping h1 -> h2 across r1 and r2"
emuctl exec "$LAB" h1 -- ping -c 3 -i 0.2 10.0.2.10

step "iperf3 h1 -> h2 (TCP, 5 s) through the 100 Mbit/s r1-r2 link"
emuctl exec "$LAB" h2 -- iperf3 -s -1 -D
sleep 0.5
out=$(emuctl exec "$LAB" h1 -- iperf3 -c 10.0.2.10 -t 5 -f m)
echo "$out" | tail -4
measured=$(echo "$out" | awk '/receiver/ {print $(NF-2)}')
# TBF counts whole Ethernet frames (1514 bytes for 1448 bytes of TCP
# payload with timestamps), so goodput is 95.6% of the configured rate.
awk -v m="$measured" 'BEGIN {
  rate = 100; expect = rate * 1448 / 1514;
  printf "\nconfigured rate %d Mbit/s  expected TCP goodput %.1f Mbit/s  measured %.1f Mbit/s  (%+.1f%%)\n",
         rate, expect, m, (m - expect) / expect * 100 }'

step "an experiment: barrier-sequenced Tasks reshape r1-r2, serve, measure; swept over two rates"
results=$(mktemp -d /tmp/emu-quickstart-results.XXXXXX)
emuctl run "$LAB" examples/experiments/quickstart-iperf.yaml \
  --param rate=10mbit,50mbit --results "$results"
echo
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { rate = $col["rate"]; sub(/mbit/, "", rate); expect = rate * 1448 / 1514;
    m = $col["mbps"];
    printf "run %s: configured %s Mbit/s  expected goodput %.2f  measured %.2f Mbit/s  (%+.1f%%)\n",
           $col["run"], rate, expect, m, (m - expect) / expect * 100 }' "$results/summary.csv"
echo "per-run JSON and summary.csv: $results"
