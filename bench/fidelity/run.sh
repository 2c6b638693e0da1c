#!/usr/bin/env bash
# Runs one of the seeds' experiments on emu (issue 13; docs/fidelity.md)
# against the cluster emuctl reaches (the local one: `emuctl local start`),
# and writes its results and plots:
#
#   bench/fidelity/run.sh qemunet [--short] [--repeat N] [--results DIR]
#
# qemunet: chains of 2..32 netns nodes (bench/fidelity/chain.py), one lab
#   per length, each measured by qemunet-chain.yaml: UDP packets/s
#   requested and delivered (64 and 1470-byte payloads), TCP Mbit/s; and a
#   chain of 10 under requested rates from 1000 packets/s up.
# --short: two chain lengths, one size, 1 s measurements, no repeats (what
#   the test suite runs, tests/integration:fidelity_test, so these files
#   cannot rot).
#
# DIR (default emu-results/fidelity-EXPERIMENT-TIME) gets runs/ (one
# `emuctl run --results` directory per lab), one directory per figure with
# its summary.csv, and per figure NAME.txt (the table `emuctl plot` prints)
# and NAME.svg.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EMUCTL=${EMUCTL:-emuctl}
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 ]] || usage
experiment=$1
shift
short= repeat=3 results=
while [[ $# -gt 0 ]]; do
  case $1 in
    --short) short=1 ;;
    --repeat) repeat=$2; shift ;;
    --results) results=$2; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
results=${results:-emu-results/fidelity-$experiment-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$results"

lab=
cleanup() { [[ -z $lab ]] || "$EMUCTL" down "$lab" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# chain_run FILE NODES OUT PARAM...: a chain of NODES nodes deployed
# (bench/fidelity/chain.py), FILE run on it with --param nodes=NODES and
# the PARAMs into OUT (emuctl run --results), and the chain removed.
chain_run() {
  local file=$1 n=$2 out=$3
  shift 3
  lab=fid$n
  python3 "$here/chain.py" --nodes "$n" --name "$lab" >"$results/$lab.yaml"
  echo "== $(basename "$out"): a chain of $n nodes"
  "$EMUCTL" up "$results/$lab.yaml" >"$results/$lab.up.log" 2>&1 || {
    cat "$results/$lab.up.log" >&2
    return 1
  }
  "$EMUCTL" run "$lab" "$file" --param "nodes=$n" "$@" \
    --repeat "$repeat" --results "$out" -q
  "$EMUCTL" down "$lab" >/dev/null
  lab=
}

# merge_summaries OUT IN...: the runs' summary.csv files as one (the header
# once, runs renumbered).
merge_summaries() {
  local out=$1 first=1 f
  shift
  mkdir -p "$out"
  : >"$out/summary.csv"
  for f in "$@"; do
    if ((first)); then head -n 1 "$f" >>"$out/summary.csv"; first=0; fi
    tail -n +2 "$f" >>"$out/summary.csv"
  done
  awk -F, -v OFS=, 'NR > 1 { $1 = NR - 1 } { print }' "$out/summary.csv" >"$out/summary.tmp"
  mv "$out/summary.tmp" "$out/summary.csv"
}

figure() {  # DIR NAME PLOT_ARGS...: the table and the SVG of one figure
  local dir=$1 name=$2
  shift 2
  echo "== $name"
  "$EMUCTL" plot "$dir" "$@" -o "$results/$name.svg" | tee "$results/$name.txt"
}

case $experiment in
  qemunet)
    # The paper's Figure 7: the most the chain forwards, by its length
    # (requested rate: as fast as iperf3 sends), for 64-byte and 1470-byte
    # payloads. Its Figure 6: a chain of 10, requested vs delivered.
    if [[ -n $short ]]; then
      lengths=(2 3) sizes=64 loads=0 secs=1 repeat=1
    else
      lengths=(2 4 8 10 16 32) sizes=64,1470 loads=1000,5000,10000,20000,40000,80000,160000,0
      secs=3
    fi
    for n in "${lengths[@]}"; do
      chain_run "$here/qemunet-chain.yaml" "$n" "$results/runs/length-$n" \
        --param "size=$sizes" --param pps=0 --param "secs=$secs"
    done
    files=()
    for n in "${lengths[@]}"; do files+=("$results/runs/length-$n/summary.csv"); done
    merge_summaries "$results/length" "${files[@]}"
    figure "$results/length" qemunet-length --x nodes --y net_delivered_pps --group size \
      --title "Network packets/s (end-to-end x links) by chain length, as fast as iperf3 sends"
    figure "$results/length" qemunet-tcp --x nodes --y tcp_mbps \
      --title "TCP Mbit/s through the chain"
    n=${lengths[-1]}
    [[ -n $short ]] || n=10
    chain_run "$here/qemunet-chain.yaml" "$n" "$results/load" \
      --param size=1470 --param "pps=$loads" --param "secs=$secs"
    figure "$results/load" qemunet-load --x pps --y net_delivered_pps \
      --title "Network packets/s delivered by a chain of $n vs end-to-end packets/s requested (0: as fast as iperf3 sends)"
    ;;
  *)
    echo "run.sh: unknown experiment $experiment (known: qemunet)" >&2
    exit 2
    ;;
esac
echo "results: $results"
