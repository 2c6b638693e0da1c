#!/usr/bin/env bash
# The fidelity experiments cannot rot (issue 13): the short version of each
# (bench/fidelity/run.sh EXPERIMENT --short: two sweep points) runs on a
# local cluster of its own and must produce every figure, with numbers
# that are measurements (packets were delivered, TCP moved data), not
# checks of their size: those are docs/fidelity.md's, from the full run.
# Needs root; the cluster is removed at the end.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
export EMUCTL
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test fi

"$EMUCTL" local start --name "$ID" --hosts 1 --no-supervise --subnet 198.18.205.0/24 >"$TMP/start.log"

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
"$EMUCTL" status 2>&1 | has fid && fail "a lab was left: $("$EMUCTL" status)"
cat "$out"/*.txt
echo PASS
