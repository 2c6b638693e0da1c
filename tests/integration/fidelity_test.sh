#!/usr/bin/env bash
# The fidelity experiments cannot rot (issue 13): the short version of each
# (bench/fidelity/run.sh EXPERIMENT --short: two sweep points) runs on a
# local cluster of its own and must produce every figure, with numbers
# that are measurements (packets were delivered, TCP moved data), not
# checks of their size: those are docs/fidelity.md's, from the full run.
# Two emulated hosts (aef's two-host half); qemunet-guests and vrouter boot
# QEMU guests from the default image (built if missing).
# Needs root; the cluster is removed at the end.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
export EMUCTL
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test fi

[[ -f /var/lib/emu/images/default/image.conf ]] ||
  "$RUNFILES/deploy/images/build_default.sh" || fail "cannot build the image"
"$EMUCTL" local start --name "$ID" --hosts 2 --no-supervise --subnet 198.18.110.0/24 >"$TMP/start.log"
t0=$(now)

out=$TMP/qemunet
"$RUNFILES/bench/fidelity/run.sh" qemunet --short --results "$out" >"$TMP/run.log" 2>&1 ||
  fail "run.sh qemunet --short: $(cat "$TMP/run.log")"
for f in qemunet-length qemunet-tcp qemunet-load; do
  grep -q "<svg" "$out/$f.svg" || fail "$f.svg is not an SVG: $(head -c 300 "$out/$f.svg")"
done
# Two chain lengths (2 and 3 nodes), one run each, and one run of the load
# sweep: every run succeeded and measured something; the network's
# packets/s are the end-to-end ones times the links.
rows=$(tail -n +2 "$out/length/summary.csv" | wc -l)
[[ $rows -eq 2 ]] || fail "length/summary.csv has $rows runs, want 2: $(cat "$out/length/summary.csv")"
rows=$(tail -n +2 "$out/load/summary.csv" | wc -l)
[[ $rows -eq 1 ]] || fail "load/summary.csv has $rows runs, want 1: $(cat "$out/load/summary.csv")"
for f in "$out/length/summary.csv" "$out/load/summary.csv"; do
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { d = $c["delivered_pps"] + 0; links = $c["nodes"] - 1 }
    $c["state"] != "succeeded" || d <= 0 || $c["offered_pps"] + 0 < d ||
    $c["tcp_mbps"] + 0 <= 0 || $c["net_delivered_pps"] + 0 < d * links - links ||
    $c["net_delivered_pps"] + 0 > d * links + links { bad = 1; print }
    END { exit bad }' "$f" >"$TMP/bad.txt" ||
    fail "runs without a measurement: $(cat "$TMP/bad.txt") in $(cat "$f")"
done
grep -Eq "^64 +2 " "$out/qemunet-length.txt" && grep -Eq "^64 +3 " "$out/qemunet-length.txt" ||
  fail "the length table lacks a chain: $(cat "$out/qemunet-length.txt")"
echo "qemunet: $(elapsed "$t0") s"

# run_short NAME: bench/fidelity/run.sh NAME --short into $TMP/NAME, which
# must then hold every figure NAME draws (SVGs), given as the rest.
run_short() {
  local name=$1 f start
  shift
  start=$(now)
  "$RUNFILES/bench/fidelity/run.sh" "$name" --short --results "$TMP/$name" >"$TMP/$name.log" 2>&1 ||
    fail "run.sh $name --short: $(cat "$TMP/$name.log")"
  for f in "$@"; do
    grep -q "<svg" "$TMP/$name/$f.svg" || fail "$name: $f.svg is not an SVG: $(head -c 300 "$TMP/$name/$f.svg")"
  done
  echo "$name: $(elapsed "$start") s"
}
# check_rows CSV N AWK: CSV has N runs, each succeeded and passes AWK (a
# condition on c["COLUMN"], the columns by name); else the test fails
# naming the runs that do not.
check_rows() {
  local csv=$1 want=$2 cond=$3 rows
  rows=$(tail -n +2 "$csv" | wc -l)
  [[ $rows -eq $want ]] || fail "$csv has $rows runs, want $want: $(cat "$csv")"
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { for (k in col) c[k] = $col[k] }
    c["state"] != "succeeded" || !('"$cond"') { bad = 1; print }
    END { exit bad }' "$csv" >"$TMP/bad.txt" ||
    fail "runs without a measurement in $csv: $(cat "$TMP/bad.txt") (all: $(cat "$csv"))"
}

# NEmu: a chain of 3 (one socat relay), links at 5 and 20 Mbit/s: the
# receiver got data at a rate the link allows (TBF: the rate, plus its
# burst over the short run's 2 s: 1.013 x was seen) and a delay was
# measured.
run_short nemu nemu-rate-1024 nemu-delay-1024 nemu-ratio
check_rows "$TMP/nemu/app/summary.csv" 2 \
  'c["rate_kbps"] > 0 && c["rate_kbps"] <= c["mbit"] * 1000 * 1.1 && c["delay_ms"] > 0 && c["forward"] == "app"'

# AEF: a 10 Mbit/s link and a 5 ms link, on one host and on two: TCP
# moved data no faster than the rate; a 5 ms link's ping took its 10 ms
# round trip at least.
run_short aef aef-rate aef-rate-ratio aef-delay
check_rows "$TMP/aef/rate/summary.csv" 2 'c["mbps"] > 0 && c["mbps"] <= c["mbit"] && c["oneway_ms"] > 0'
check_rows "$TMP/aef/delay/summary.csv" 2 'c["oneway_ms"] >= c["delay"]'
grep -Eq "^2 +" "$TMP/aef/aef-delay.txt" || fail "no two-host row: $(cat "$TMP/aef/aef-delay.txt")"

# The guest router, one vCPU pinned: packets crossed it at both loads.
run_short vrouter vrouter-load vrouter-max
check_rows "$TMP/vrouter/vrouter/summary.csv" 2 'c["delivered_pps"] > 0 && c["config"] == "1vcpu-pinned"'

# A chain of two QEMU guests: UDP (64 and 1470 bytes) and TCP crossed it.
run_short qemunet-guests qemunet-guests-length qemunet-guests-tcp
check_rows "$TMP/qemunet-guests/guests/summary.csv" 2 'c["delivered_pps"] > 0 && c["tcp_mbps"] > 0'

labs=$("$EMUCTL" status 2>&1)
grep -Eq "fid|fnemu|faef" <<<"$labs" && fail "a lab was left: $labs"
cat "$out"/*.txt "$TMP"/{nemu,aef,vrouter,qemunet-guests}/*.txt
echo "total: $(elapsed "$t0") s"
echo PASS
