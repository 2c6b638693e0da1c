#!/usr/bin/env bash
# `up` and `down` time of a large netns lab spread over several emulated
# hosts (a local cluster: one namespace + one real agent per host, real TCP
# tunnels for the links between hosts). Prints the placement summary and
# the times. Then, with --apply N, `emuctl apply` on the running lab: N
# times adding one node (linked to n0) and removing it again. Root only;
# makes its own cluster and removes it.
#
#   bazel run //bench:cluster_up_bench -- --nodes 200 --links 300 --hosts 4
#   bazel run //bench:cluster_up_bench -- --nodes 100 --links 150 --hosts 2 \
#     --rounds 1 --apply 3
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
RUNFILES=${RUNFILES_DIR:-$0.runfiles}/emu
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

"$EMUCTL" local start --name "$ID" --hosts "$HOSTS" --subnet 198.18.236.0/24 >/dev/null
echo "up/down of $NODES netns nodes, $LINKS TBF-shaped links over $HOSTS emulated hosts ($(nproc) cores)"
"$EMUCTL" plan "$TMP/lab.yaml" | head -1
for ((r = 1; r <= ROUNDS; r++)); do
  t0=$(date +%s.%N)
  "$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; exit 1; }
  t1=$(date +%s.%N)
  "$EMUCTL" down "bench$ID" >/dev/null
  t2=$(date +%s.%N)
  awk -v r="$r" -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN { printf "round %d: up %.2f s, down %.2f s\n", r, b - a, c - b }'
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
