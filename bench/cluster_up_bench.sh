#!/usr/bin/env bash
# `up` and `down` time of a large netns lab spread over several emulated
# hosts (a local cluster: one namespace + one real agent per host, real TCP
# tunnels for the links between hosts). Prints the placement summary, the
# times, the lines `emuctl up` printed (deploy events), the resident memory
# of the controller and of each agent with the lab up (per node, against the
# same daemon before the first up), and after every `down` what of the lab
# is left on the machine (its namespaces; nothing, or the bench fails).
# Then, with --apply N, `emuctl apply` on the running lab: N
# times adding one node (linked to n0) and removing it again. Root only;
# makes its own cluster and removes it.
#
#   bazel run //bench:cluster_up_bench -- --nodes 200 --links 300 --hosts 4
#   bazel run //bench:cluster_up_bench -- --nodes 100 --links 150 --hosts 2 \
#     --rounds 1 --apply 3
#   # issue 14's goal: up < 30 s, down < 15 s (under the integration lock)
#   flock /tmp/emu-integration.lock bazel run --config=release \
#     //bench:cluster_up_bench -- --nodes 10000 --links 15000 --hosts 16 --rounds 1
set -euo pipefail

NODES=200 LINKS=300 HOSTS=4 ROUNDS=2 APPLY=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --nodes) NODES=$2; shift 2 ;;
    --links) LINKS=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --apply) APPLY=$2; shift 2 ;;
    *) echo "usage: $0 [--nodes N] [--links L] [--hosts H] [--rounds R] [--apply N]" >&2; exit 2 ;;
  esac
done
# Absolute: a bazel-bin/ path breaks when another build (-c opt) re-points
# the bazel-bin symlink while the bench runs (a 10k-node up takes minutes).
RUNFILES=$(realpath "${RUNFILES_DIR:-$0.runfiles}/emu")
EMUCTL=$RUNFILES/cli/emuctl
ID=b$(( $$ % 100000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json
TMP=$(mktemp -d /tmp/emu-up-bench.XXXXXX)
trap '"$EMUCTL" local stop --name "$ID" >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT

# A ring of NODES plus chords i <-> i+NODES/2 until LINKS, every link 100 Mbit/s.
{
  echo "name: bench$ID"
  echo "topology:"
  echo "  nodes:"
  for ((i = 0; i < NODES; i++)); do echo "    n$i: {}"; done
  echo "  links:"
  declare -A next
  made=0
  add() {
    local a=$1 b=$2
    local ia=${next[$a]:-0} ib=${next[$b]:-0}
    next[$a]=$((ia + 1)); next[$b]=$((ib + 1))
    echo "    - {endpoints: [\"n$a:e$ia\", \"n$b:e$ib\"], rate: 100mbit}"
    made=$((made + 1))
  }
  for ((i = 0; i < NODES && made < LINKS; i++)); do add "$i" $(( (i + 1) % NODES )); done
  for ((i = 0; made < LINKS; i++)); do add $(( i % NODES )) $(( (i + NODES / 2) % NODES )); done
} >"$TMP/lab.yaml"
# The same lab with one more node, linked to n0.
sed "s/^  links:$/    extra: {}\n  links:\n    - {endpoints: [\"n0:x1\", \"extra:e0\"], rate: 100mbit}/" \
  "$TMP/lab.yaml" >"$TMP/plus1.yaml"

# "NAME PID" of the cluster's running daemons (controller, agents).
daemons() {
  "$EMUCTL" local status --name "$ID" |
    awk '$3 == "yes" && $2 ~ /^[0-9]+$/ { print $1, $2 }'
}
# Resident memory of a pid in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# The lab's namespaces on the machine (agents name them emu.<host>.<lab>...).
lab_namespaces() { ls /run/netns 2>/dev/null | grep -c "^emu\.$ID-h[0-9]*\.bench$ID\." || true; }

"$EMUCTL" local start --name "$ID" --hosts "$HOSTS" --subnet 198.18.236.0/24 >/dev/null
echo "up/down of $NODES netns nodes, $LINKS TBF-shaped links over $HOSTS emulated hosts" \
  "($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
# (Not piped into head: with pipefail, emuctl's SIGPIPE failed the bench.)
"$EMUCTL" plan "$TMP/lab.yaml" >"$TMP/plan.txt"
head -1 "$TMP/plan.txt"
declare -A before
while read -r name pid; do before[$name]=$(rss_kib "$pid"); done < <(daemons)
for ((r = 1; r <= ROUNDS; r++)); do
  t0=$(date +%s.%N)
  "$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; exit 1; }
  t1=$(date +%s.%N)
  awk -v r="$r" -v a="$t0" -v b="$t1" 'BEGIN { printf "round %d: up took %.2f s\n", r, b - a }'
  if ((r == 1)); then
    # Nodes per host from the status summary's HOST table.
    ts0=$(date +%s.%N)
    "$EMUCTL" status "bench$ID" >"$TMP/status.txt"
    ts1=$(date +%s.%N)
    awk -v a="$ts0" -v b="$ts1" -v l="$(wc -l <"$TMP/status.txt")" \
      'BEGIN { printf "emuctl status of the lab took %.2f s (%d lines; issue 14: < 1 s)\n", b - a, l }'
    declare -A placed
    while read -r host n; do placed[$host]=$n; done < <(
      awk '$1 == "HOST" && $2 == "NODES" { t = 1; next } t && NF == 0 { t = 0 }
           t && $2 ~ /^[0-9]+$/ { print $1, $2 }' "$TMP/status.txt")
    echo "emuctl up printed $(wc -l <"$TMP/up.log") lines"
    printf '%-12s %7s %12s %12s %14s\n' DAEMON NODES "RSS BEFORE" "RSS UP" "PER NODE"
    while read -r name pid; do
      [[ $name == supervisor ]] && continue
      now=$(rss_kib "$pid") n=$NODES
      [[ $name == controller ]] || n=${placed[$name]:-0}
      awk -v d="$name" -v n="$n" -v b="${before[$name]:-0}" -v u="$now" 'BEGIN {
        printf "%-12s %7d %9.1f MiB %9.1f MiB %10s\n", d, n, b / 1024, u / 1024,
          (n > 0 ? sprintf("%.1f KiB", (u - b) / n) : "-") }'
    done < <(daemons)
  fi
  "$EMUCTL" down "bench$ID" >/dev/null
  t2=$(date +%s.%N)
  left=$(lab_namespaces)
  awk -v r="$r" -v a="$t0" -v b="$t1" -v c="$t2" -v l="$left" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN { printf "round %d: up %.2f s, down %.2f s, %d lab namespaces left (load %s)\n", r, b - a, c - b, l, load }'
  ((left == 0)) || { echo "FAIL: down left $left namespaces of the lab" >&2; exit 1; }
done

if ((APPLY > 0)); then
  echo "apply on the running lab ($NODES nodes, $HOSTS hosts): add one node, remove it"
  "$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; exit 1; }
  for ((r = 1; r <= APPLY; r++)); do
    t0=$(date +%s.%N)
    "$EMUCTL" apply "$TMP/plus1.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; exit 1; }
    t1=$(date +%s.%N)
    "$EMUCTL" apply "$TMP/lab.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; exit 1; }
    t2=$(date +%s.%N)
    awk -v r="$r" -v a="$t0" -v b="$t1" -v c="$t2" \
      'BEGIN { printf "round %d: apply +1 node %.2f s, apply -1 node %.2f s\n", r, b - a, c - b }'
  done
  "$EMUCTL" down "bench$ID" >/dev/null
fi
