#!/usr/bin/env bash
# Runs one of the seeds' experiments on emu (issue 13; docs/fidelity.md)
# against the cluster emuctl reaches (the local one: `emuctl local start`,
# `--hosts 2` for aef's two-host half), and writes its results and plots:
#
#   bench/fidelity/run.sh EXPERIMENT [--short] [--repeat N] [--results DIR] [--resume]
#
# qemunet: chains of 2..32 netns nodes (bench/fidelity/chain.py), one lab
#   per length, each measured by qemunet-chain.yaml: UDP packets/s
#   requested and delivered (64 and 1470-byte payloads), TCP Mbit/s; and a
#   chain of 10 under requested rates from 1000 packets/s up.
# qemunet-guests: the same through chains of 2, 4 and 8 QEMU guests.
# nemu: NEmu's pipelined TCP (nemu-pipeline.yaml): chains of 2..16 netns
#   nodes, every link 1.25..20 Mbit/s, a socat relay per router (and, for
#   comparison, kernel routing): receiver rate and delay.
# aef: AEF's link validation (aef-link.yaml): configured vs measured rate
#   (0.5..1000 Mbit/s) and delay (0..100 ms) of one link, both nodes on
#   one host and on two (when the cluster has two).
# vrouter: the KVM virtual router's forwarding rate: 64-byte UDP packets/s
#   offered vs forwarded by a QEMU guest router, 1 and 2 vCPUs, pinned
#   (cpuset) or not.
# --short: two sweep points, one run each, short measurements (what the
#   test suite runs, tests/integration:fidelity_test, so these files
#   cannot rot).
#
# DIR (default emu-results/fidelity-EXPERIMENT-TIME) gets runs/ (one
# `emuctl run --results` directory per lab), one directory per figure with
# its summary.csv, and per figure NAME.txt (the table `emuctl plot` prints)
# and NAME.svg. Before each lab's run the load average is printed (and
# kept in DIR/load.txt): the figures are lower bounds on a loaded machine.
# With EMU_LOCK=FILE each lab's deploy and run hold flock(1) on FILE (one
# lab at a time, so a long sweep leaves room to others' integration tests
# between labs on a shared machine).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
EMUCTL=${EMUCTL:-emuctl}
usage() { sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 ]] || usage
experiment=$1
shift
case $experiment in
  qemunet|qemunet-guests|nemu|aef|vrouter) ;;
  -h|--help) usage ;;
  *)
    echo "run.sh: unknown experiment $experiment (known: qemunet, qemunet-guests, nemu, aef, vrouter)" >&2
    exit 2
    ;;
esac
short= repeat=3 results= resume=
while [[ $# -gt 0 ]]; do
  case $1 in
    --short) short=1 ;;
    --resume) resume=1 ;;
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

# note_load WHAT: the load average before WHAT, printed and kept in
# DIR/load.txt (the machine may be shared: figures are lower bounds).
note_load() {
  echo "== $1 (load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S) UTC)" |
    tee -a "$results/load.txt"
}

# locked CMD...: CMD, holding $EMU_LOCK if set.
locked() {
  if [[ -n ${EMU_LOCK:-} ]]; then flock "$EMU_LOCK" "$@"; else "$@"; fi
}

# done_already OUT: with --resume, OUT/summary.csv exists and every run in
# it succeeded.
done_already() {
  [[ -n $resume && -f $1/summary.csv ]] || return 1
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "state") c = i; next }
    $c != "succeeded" { bad = 1 } END { exit bad || NR < 2 }' "$1/summary.csv" || return 1
  echo "== $(basename "$1"): done already (--resume)"
}

# chain_run FILE NODES OUT PARAM...: a chain of NODES nodes deployed
# (bench/fidelity/chain.py with the options in the array chain_opts), FILE
# run on it with --param nodes=NODES and the PARAMs into OUT (emuctl run
# --results), and the chain removed.
chain_opts=()
chain_run() {
  local file=$1 n=$2 out=$3
  shift 3
  done_already "$out" && return
  lab=fid$n
  python3 "$here/chain.py" --nodes "$n" --name "$lab" "${chain_opts[@]}" >"$results/$lab.yaml"
  note_load "$(basename "$out"): a chain of $n nodes ${chain_opts[*]}"
  locked bash -c '"$1" up "$2" >"$3" 2>&1 || { cat "$3" >&2; exit 1; }
    "$1" run "${@:4}"' _ "$EMUCTL" "$results/$lab.yaml" "$results/$lab.up.log" \
    "$lab" "$file" --param "nodes=$n" "$@" --repeat "$repeat" --results "$out" -q
  "$EMUCTL" down "$lab" >/dev/null
  lab=
}

# redeploy_run FILE TOPOLOGY LAB OUT PARAM...: FILE (reset: redeploy) run
# with TOPOLOGY, which deploys LAB anew for every run with the run's
# PARAMs substituted, into OUT; LAB removed at the end.
redeploy_run() {
  local file=$1 topology=$2 out=$4
  done_already "$out" && return
  lab=$3
  shift 4
  note_load "$(basename "$out"): $*"
  locked "$EMUCTL" run "$lab" "$file" --topology "$topology" "$@" \
    --repeat "$repeat" --results "$out" -q
  "$EMUCTL" down "$lab" >/dev/null
  lab=
}

# select_rows IN COLUMN VALUE OUT: the rows of IN (a summary.csv) whose
# COLUMN is VALUE, as OUT/summary.csv (one figure of several in one run).
select_rows() {
  mkdir -p "$4"
  awk -F, -v col="$2" -v val="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i;
    if (!c) { print "select_rows: no column " col > "/dev/stderr"; exit 1 } print; next }
    $c == val' "$1" >"$4/summary.csv"
}

# cluster_hosts: the reachable hosts' names, one a line.
cluster_hosts() {
  "$EMUCTL" hosts | awk '$1 != "HOST" && $3 == "yes" { print $1 }'
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

# The chains run on one host (the first), as the seeds' did: a chain left
# to placement on a cluster of several would span them.
case $experiment in
  qemunet|qemunet-guests|vrouter|nemu)
    mapfile -t hosts < <(cluster_hosts)
    host1=${hosts[0]:-}
    [[ -n $host1 ]] || { echo "run.sh: no reachable host" >&2; exit 1; }
    chain_opts=(--host "$host1")
    ;;
esac

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
  qemunet-guests)
    # Qemunet's nodes were QEMU guests: the same chain with every node a
    # guest (TCG here unless the host has a usable KVM; docs/guests.md).
    chain_opts+=(--kind qemu --cpus 1 --overcommit)
    if [[ -n $short ]]; then
      lengths=(2) sizes=64,1470 secs=1 repeat=1
    else
      lengths=(2 4 8) sizes=64,1470 secs=3
    fi
    files=()
    for n in "${lengths[@]}"; do
      chain_run "$here/qemunet-chain.yaml" "$n" "$results/runs/guests-$n" \
        --param "size=$sizes" --param pps=0 --param "secs=$secs"
      files+=("$results/runs/guests-$n/summary.csv")
    done
    merge_summaries "$results/guests" "${files[@]}"
    figure "$results/guests" qemunet-guests-length --x nodes --y net_delivered_pps --group size \
      --title "Network packets/s through a chain of QEMU guests, as fast as iperf3 sends"
    figure "$results/guests" qemunet-guests-tcp --x nodes --y tcp_mbps \
      --title "TCP Mbit/s through a chain of QEMU guests"
    ;;
  vrouter)
    # The KVM virtual router (seed 004, Figure 1): a QEMU guest routing
    # between two netns nodes; 64-byte UDP packets/s offered vs forwarded,
    # by vCPUs and pinning (cpuset pins each vCPU thread to a host CPU).
    if [[ -n $short ]]; then
      configs=(1vcpu-pinned) loads=1000,0 secs=1 repeat=1
    else
      configs=(1vcpu 1vcpu-pinned 2vcpu 2vcpu-pinned) loads=2000,5000,10000,20000,0 secs=3
    fi
    files=()
    for c in "${configs[@]}"; do
      case $c in
        1vcpu) opts=(--router-kind qemu --cpus 1) ;;
        1vcpu-pinned) opts=(--router-kind qemu --cpus 1 --cpuset 1) ;;
        2vcpu) opts=(--router-kind qemu --cpus 2) ;;
        2vcpu-pinned) opts=(--router-kind qemu --cpus 2 --cpuset 0,1) ;;
      esac
      chain_opts=(--host "$host1" --overcommit "${opts[@]}")
      chain_run "$here/qemunet-chain.yaml" 3 "$results/runs/$c" \
        --param size=64 --param "pps=$loads" --param "secs=$secs" --param tcp=0 \
        --param "config=$c"
      files+=("$results/runs/$c/summary.csv")
    done
    merge_summaries "$results/vrouter" "${files[@]}"
    figure "$results/vrouter" vrouter-load --x offered_pps --y delivered_pps --group config \
      --title "64-byte UDP packets/s forwarded by a QEMU guest router vs offered"
    select_rows "$results/vrouter/summary.csv" pps 0 "$results/vrouter-max"
    figure "$results/vrouter-max" vrouter-max --x config --y delivered_pps \
      --title "Packets/s forwarded by the guest router, offered as fast as iperf3 sends"
    ;;
  nemu)
    # NEmu's Figures 3-6: receiver rate and delay by chain length, per link
    # rate, for 500 and 1024-byte messages, a relay (socat) per router.
    # Then, one run per point, kernel routing (one TCP connection end to
    # end), and links with 5 ms of delay each (NEmu set none: its vswitch
    # shaped the rate only).
    if [[ -n $short ]]; then
      lengths=(3) rates=5,20 sizes=1024 warm=1 secs=2 repeat=1
    else
      lengths=(2 4 8 16) rates=1.25,2.5,5,10,20 sizes=500,1024 warm=2 secs=5
    fi
    app=() kern=() ldel=()
    for n in "${lengths[@]}"; do
      python3 "$here/chain.py" --nodes "$n" --name "fnemu$n" --relay 5001 --host "$host1" \
        --rate '${mbit}mbit' --delay '${delay}ms' >"$results/nemu$n.yaml"
      common=(--param "nodes=$n"
        --param "warmup=$warm" --param "secs=$secs")
      redeploy_run "$here/nemu-pipeline.yaml" "$results/nemu$n.yaml" "fnemu$n" \
        "$results/runs/app-$n" "${common[@]}" --param "mbit=$rates" \
        --param "size=$sizes" --param delay=0 --param forward=app
      app+=("$results/runs/app-$n/summary.csv")
      [[ -z $short ]] || continue
      # The comparisons: one run per point.
      all_repeat=$repeat repeat=1
      redeploy_run "$here/nemu-pipeline.yaml" "$results/nemu$n.yaml" "fnemu$n" \
        "$results/runs/kernel-$n" "${common[@]}" --param "mbit=$rates" \
        --param size=1024 --param delay=0 --param forward=kernel
      kern+=("$results/runs/kernel-$n/summary.csv")
      redeploy_run "$here/nemu-pipeline.yaml" "$results/nemu$n.yaml" "fnemu$n" \
        "$results/runs/delay-$n" "${common[@]}" --param mbit=10 \
        --param size=1024 --param delay=5 --param forward=app,kernel
      ldel+=("$results/runs/delay-$n/summary.csv")
      repeat=$all_repeat
    done
    merge_summaries "$results/app" "${app[@]}"
    for size in ${sizes//,/ }; do
      select_rows "$results/app/summary.csv" size "$size" "$results/app-$size"
      figure "$results/app-$size" "nemu-rate-$size" --x nodes --y rate_kbps --group mbit \
        --title "Receiver rate (kbit/s), $size-byte messages, socat per router, by link rate (Mbit/s)"
      figure "$results/app-$size" "nemu-delay-$size" --x nodes --y delay_ms --group mbit \
        --title "Receiver delay (ms), $size-byte messages, socat per router, by link rate (Mbit/s)"
    done
    figure "$results/app" nemu-ratio --x mbit --y ratio --group nodes \
      --title "Receiver rate / link rate, socat per router, by chain length"
    if [[ -z $short ]]; then
      merge_summaries "$results/kernel" "${kern[@]}"
      figure "$results/kernel" nemu-kernel-rate --x nodes --y rate_kbps --group mbit \
        --title "Receiver rate (kbit/s), 1024-byte messages, kernel routing, by link rate (Mbit/s)"
      figure "$results/kernel" nemu-kernel-delay --x nodes --y delay_ms --group mbit \
        --title "Receiver delay (ms), 1024-byte messages, kernel routing, by link rate (Mbit/s)"
      merge_summaries "$results/linkdelay" "${ldel[@]}"
      figure "$results/linkdelay" nemu-linkdelay --x nodes --y delay_ms --group forward \
        --title "Receiver delay (ms), 10 Mbit/s and 5 ms per link, by forwarding"
    fi
    ;;
  aef)
    # AEF's Figures 5 and 6: configured vs measured rate and delay of one
    # link, the two nodes on one host and (with two hosts) on two.
    mapfile -t hosts < <(cluster_hosts)
    [[ ${#hosts[@]} -ge 1 ]] || { echo "run.sh: no reachable host" >&2; exit 1; }
    placements=(1)
    if [[ ${#hosts[@]} -ge 2 ]]; then
      placements=(1 2)
    else
      echo "run.sh: one host: the two-host half is left out (emuctl local start --hosts 2)" >&2
    fi
    if [[ -n $short ]]; then
      rates=10 delays=5 secs=2 pings=10 repeat=1
    else
      rates=0.5,1,2,5,10,20,50,100,200,500,1000 delays=0,1,2,5,10,20,50,100 secs=4 pings=40
    fi
    bw=() lat=()
    for p in "${placements[@]}"; do
      python3 "$here/chain.py" --nodes 2 --name faef --rate '${mbit}mbit' --delay '${delay}ms' \
        --host-a "${hosts[0]}" --host-b "${hosts[p - 1]}" >"$results/aef-$p.yaml"
      common=(--param "hosts=$p" --param "secs=$secs" --param "pings=$pings")
      redeploy_run "$here/aef-link.yaml" "$results/aef-$p.yaml" faef "$results/runs/rate-$p" \
        "${common[@]}" --param "mbit=$rates" --param delay=0
      bw+=("$results/runs/rate-$p/summary.csv")
      redeploy_run "$here/aef-link.yaml" "$results/aef-$p.yaml" faef "$results/runs/delay-$p" \
        "${common[@]}" --param mbit=0 --param "delay=$delays"
      lat+=("$results/runs/delay-$p/summary.csv")
    done
    merge_summaries "$results/rate" "${bw[@]}"
    merge_summaries "$results/delay" "${lat[@]}"
    figure "$results/rate" aef-rate --x mbit --y mbps --group hosts --logx --logy \
      --title "Measured TCP Mbit/s vs configured rate (Mbit/s), hosts: 1 = same host, 2 = two hosts"
    figure "$results/rate" aef-rate-ratio --x mbit --y ratio --group hosts --logx \
      --title "Measured / configured rate (TCP over TBF: at most 1448/1514 = 0.956)"
    figure "$results/delay" aef-delay --x delay --y oneway_ms --group hosts \
      --title "Measured one-way delay (ping RTT / 2, ms) vs configured (ms)"
    ;;
  *)
    echo "run.sh: unknown experiment $experiment (known: qemunet, qemunet-guests, nemu, aef, vrouter)" >&2
    exit 2
    ;;
esac
echo "results: $results"
