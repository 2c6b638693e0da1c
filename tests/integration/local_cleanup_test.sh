#!/usr/bin/env bash
# Cleanup of a local cluster that has no live owner (issue 15, "leaks after
# a failure"):
#  1. `emu-agent --cleanup` is refused while the host's agent runs.
#  2. Agents killed with -9 and cluster.json gone (the controller still
#     running, unrecorded): `emuctl local stop --name ID` removes the lab
#     namespaces, the processes in them, the controller, the host
#     namespaces and the bridge; a foreign namespace survives.
#  3. Every daemon killed with -9: `emu-agent --cleanup --host_name=H`
#     removes exactly H's lab namespaces, and `emuctl local gc` the rest.
# Needs root; touches only names with its own id; ends only its own
# processes, by pid.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
EMUCTL=$RUNFILES/cli/emuctl
AGENT=$RUNFILES/agent/emu-agent
ID=k$(( $$ % 100000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json
TMP=$(mktemp -d /tmp/emu-local-cleanup-test.XXXXXX)
# Not the cluster's: a host index that does not parse, and a host with no
# cluster id in its name.
FOREIGN=("emu.$ID-hx.lab.n" "emu.real$ID.lab.n")
cleanup() {
  "$EMUCTL" local stop --name "$ID" >/dev/null 2>&1 || true
  for n in "${FOREIGN[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# What of this cluster is left on the machine, one line each; empty = none.
leftovers() {
  ls /run/netns 2>/dev/null | grep -E "^(emu\.$ID-h[0-9]+\.|emuhost-$ID-)" || true
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' |
    grep -E "^(emubr-$ID|emuv-$ID-[0-9]+)$" || true
  pgrep -f -- "--token_file=/run/emu/$ID/token" | sed 's/^/pid /' || true
  for p in "${LAB_PROCS[@]}"; do
    if running "$p"; then echo "lab process $p ($(cat "/proc/$p/comm" 2>/dev/null))"; fi
  done
}
foreign_intact() {
  for n in "${FOREIGN[@]}"; do
    [ -e "/run/netns/$n" ] || fail "foreign namespace $n was removed"
  done
}
supervisor_pid() {
  grep -oE '"supervisor_pid": *[0-9]+' "$EMU_CLUSTER" | grep -oE '[0-9]+$'
}
cluster_pids() {  # controller and agent pids from cluster.json
  grep -oE '"(controller_pid|pid)": *[0-9]+' "$EMU_CLUSTER" | grep -oE '[0-9]+$'
}

start_lab() {
  "$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.233.0/24 \
    >"$TMP/start.log" 2>&1 || fail "start: $(cat "$TMP/start.log")"
  cat >"$TMP/lab.yaml" <<YAML
name: lk$ID
topology:
  nodes:
    a: {host: $ID-h1, interfaces: {eth1: {addresses: [10.9.1.1/24]}}}
    b: {host: $ID-h2, interfaces: {eth1: {addresses: [10.9.1.2/24]}}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
YAML
  "$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
  # A process in each node that outlives the exec call, as a lab's servers do.
  for n in a b; do
    "$EMUCTL" exec "lk$ID" "$n" -- setsid -f sh -c 'exec sleep 600 </dev/null >/dev/null 2>&1' >/dev/null 2>&1 ||
      fail "exec sleep in $n"
  done
  # Every process of the two nodes: the node's sandbox holder and init, and
  # the sleeper; node a's (on h1) first.
  LAB_PROCS=() A_PROCS=()
  for ns in "emu.$ID-h1.lk$ID.a" "emu.$ID-h2.lk$ID.b"; do
    [ -e "/run/netns/$ns" ] || fail "namespace $ns not made"
    mapfile -t pids < <(ip netns pids "$ns")
    sleeper=0
    for p in "${pids[@]}"; do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && sleeper=1
    done
    [ "$sleeper" = 1 ] || fail "no sleep process in $ns: ${pids[*]}"
    LAB_PROCS+=("${pids[@]}")
    if [ "$ns" = "emu.$ID-h1.lk$ID.a" ]; then A_PROCS=("${pids[@]}"); fi
  done
}
LAB_PROCS=() A_PROCS=()
for n in "${FOREIGN[@]}"; do ip netns add "$n"; done

# ---- 1 + 2: record lost, agents dead, controller alive -------------------
start_lab
if "$AGENT" --cleanup --host_name="$ID-h1" --state_dir="$TMP/none" \
    >"$TMP/refused.log" 2>&1; then
  fail "--cleanup ran while the agent of $ID-h1 is alive"
fi
grep -q "still serves it" "$TMP/refused.log" || fail "refusal: $(cat "$TMP/refused.log")"
[ -e "/run/netns/emu.$ID-h1.lk$ID.a" ] || fail "refused cleanup removed something"

# The supervisor would start the killed daemons again: it goes first, as
# after a reboot or an OOM kill of everything.
kill -9 "$(supervisor_pid)"
mapfile -t PIDS < <(cluster_pids)
CONTROLLER_PID=${PIDS[0]}
for p in "${PIDS[@]:1}"; do kill -9 "$p"; done
rm -f "$EMU_CLUSTER"
"$EMUCTL" local stop --name "$ID" >"$TMP/stop.log" 2>&1 || fail "stop: $(cat "$TMP/stop.log")"
grep -q "nothing to stop" "$TMP/stop.log" && fail "stop found nothing: $(cat "$TMP/stop.log")"
left=$(leftovers)
[ -z "$left" ] || fail "left after stop without record or agents: $left"
running "$CONTROLLER_PID" && fail "unrecorded controller $CONTROLLER_PID still runs"
foreign_intact
echo "stop without record or agents: nothing left"

# ---- 3: every daemon dead: agent --cleanup, then gc ----------------------
start_lab
kill -9 "$(supervisor_pid)"
mapfile -t PIDS < <(cluster_pids)
kill -9 "${PIDS[@]}"
"$AGENT" --cleanup --host_name="$ID-h1" --state_dir="/run/emu/$ID/agents/$ID-h1" \
  >"$TMP/cleanup.log" 2>&1 || fail "agent --cleanup: $(cat "$TMP/cleanup.log")"
[ -e "/run/netns/emu.$ID-h1.lk$ID.a" ] && fail "--cleanup left emu.$ID-h1.lk$ID.a"
[ -e "/run/netns/emu.$ID-h2.lk$ID.b" ] || fail "--cleanup of h1 removed h2's namespace"
for p in "${A_PROCS[@]}"; do
  running "$p" && fail "--cleanup left process $p ($(cat "/proc/$p/comm" 2>/dev/null)) of node a running"
done
[[ -n "$(ls "/run/emu/$ID/agents/$ID-h1/labs" 2>/dev/null)" ]] &&
  fail "--cleanup left saved labs: $(ls "/run/emu/$ID/agents/$ID-h1/labs")"
"$EMUCTL" local gc >"$TMP/gc.log" 2>&1 || fail "gc: $(cat "$TMP/gc.log")"
grep -q "$ID" "$TMP/gc.log" || fail "gc did not name $ID: $(cat "$TMP/gc.log")"
left=$(leftovers)
[ -z "$left" ] || fail "left after gc: $left"
[ -e "/run/emu/$ID" ] && fail "gc left /run/emu/$ID"
foreign_intact
echo "agent --cleanup and local gc: nothing left"
echo PASS
