#!/usr/bin/env bash
# A lab of SCALE_NODES (default 2,000) netns nodes in a ring of as many
# TBF-shaped, addressed links over 4 emulated hosts (issue 14's scaled test,
# sized for CI): `emuctl up` brings it up; `emuctl status` summarises it as
# RUNNING with every node on one of the 4 hosts; a sample of links spread
# round the ring (so some of them cross hosts: tunnels) answers a ping
# between its two ends; `emuctl down` leaves none of the lab's namespaces,
# and stopping the cluster leaves nothing of it. Prints the up and down
# times (figures belong to bench/cluster_up_bench.sh; nothing here is timed
# beyond the test's own deadline). Needs root; touches only names with its
# own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test z
LAB=scale$ID
T0=$(now)
NODES=${SCALE_NODES:-2000}
HOSTS=4

# Link i joins n<i>:e1 and n<i+1>:e0 with the /30 10.64.0.0 + 4i.
# addr LINK END(1|2): the address in $REPLY (no subshell: 4,000 of them
# took minutes on a loaded machine).
addr() {
  local b=$(( $1 * 4 + $2 ))
  REPLY="10.$(( 64 + (b >> 16) )).$(( (b >> 8) & 255 )).$(( b & 255 ))"
}
{
  echo "name: $LAB"
  echo "topology:"
  echo "  nodes:"
  for ((i = 0; i < NODES; i++)); do
    addr $(( (i + NODES - 1) % NODES )) 2; e0=$REPLY
    addr "$i" 1
    echo "    n$i: {interfaces: {e0: {addresses: [$e0/30]}, e1: {addresses: [$REPLY/30]}}}"
  done
  echo "  links:"
  for ((i = 0; i < NODES; i++)); do
    echo "    - {endpoints: [\"n$i:e1\", \"n$(( (i + 1) % NODES )):e0\"], rate: 100mbit}"
  done
} >"$TMP/lab.yaml"

echo "lab file written: $(elapsed "$T0") s"
"$EMUCTL" local start --name "$ID" --hosts "$HOSTS" --subnet 198.18.241.0/24 \
  >"$TMP/start.log" 2>&1 || fail "local start: $(cat "$TMP/start.log")"
echo "cluster started: $(elapsed "$T0") s"

start=$(now)
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(tail -5 "$TMP/up.log")"
echo "up of $NODES nodes / $NODES links over $HOSTS hosts: $(elapsed "$start") s" \
  "(load $(cut -d' ' -f1 /proc/loadavg)), $(wc -l <"$TMP/up.log") lines printed"

"$EMUCTL" status "$LAB" >"$TMP/status.txt" || fail "status: $(cat "$TMP/status.txt")"
grep -q "^State: *RUNNING" "$TMP/status.txt" ||
  fail "not RUNNING after up: $(head -5 "$TMP/status.txt")"
# The summary's HOST table: every node on one of the 4 hosts.
placed=$(awk '$1 == "HOST" && $2 == "NODES" { t = 1; next } t && NF == 0 { t = 0 }
              t && $2 ~ /^[0-9]+$/ { n += $2; h++ } END { print h + 0, n + 0 }' "$TMP/status.txt")
[[ $placed == "$HOSTS $NODES" ]] ||
  fail "status should place $NODES nodes on $HOSTS hosts, says (hosts nodes) $placed:
$(cat "$TMP/status.txt")"

# Ten links round the ring, both directions of each.
step=$(( NODES / 10 ))
for ((k = 0; k < 10; k++)); do
  i=$(( k * step + k ))
  j=$(( (i + 1) % NODES ))
  addr "$i" 2
  "$EMUCTL" exec "$LAB" "n$i" -- ping -c 1 -W 5 "$REPLY" >"$TMP/ping.log" 2>&1 ||
    fail "n$i -> n$j ($REPLY) over link $i: $(cat "$TMP/ping.log")"
  addr "$i" 1
  "$EMUCTL" exec "$LAB" "n$j" -- ping -c 1 -W 5 "$REPLY" >"$TMP/ping.log" 2>&1 ||
    fail "n$j -> n$i ($REPLY) over link $i: $(cat "$TMP/ping.log")"
done
echo "ping over 10 links of the ring, both ways: ok ($(elapsed "$T0") s)"

start=$(now)
"$EMUCTL" down "$LAB" >"$TMP/down.log" 2>&1 || fail "down: $(tail -5 "$TMP/down.log")"
echo "down: $(elapsed "$start") s"
left=$(ls /run/netns | grep -c "^emu\.$ID-h[0-9]*\.$LAB\." || true)
[[ $left -eq 0 ]] || fail "down left $left namespaces of $LAB"

"$EMUCTL" local stop --name "$ID" >/dev/null 2>&1 || fail "local stop"
check_nothing_left "$ID"
trap - EXIT
echo "PASS ($(elapsed "$T0") s)"
