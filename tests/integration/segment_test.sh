#!/usr/bin/env bash
# Shared L2 segments on a 2-host local cluster, with `emuctl up` as a user
# runs it. A switch on h1 with members on h1 (a) and h2 (b, c): a pings b
# through it (b's port is a tunnel TAP on the switch's host), c sees next to
# none of their unicast frames, and the 10 Mbit/s port towards b holds, also
# after kill -9 of the switch's agent (the restarted one rebuilds the
# ports). A
# hub on h1 with members x (h1), y and z (h2): z sees every frame between x
# and y. containerlab's kind: bridge example deploys and pings. down + stop
# leave nothing. Needs root; touches only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test s

LAB=seg$ID
cat >"$TMP/seg.yaml" <<YAML
name: $LAB
topology:
  nodes:
    sw: {kind: switch, host: $ID-h1}
    hub: {kind: hub, host: $ID-h1}
    a: {host: $ID-h1, interfaces: {eth1: {addresses: [10.60.0.1/24]}}}
    b: {host: $ID-h2, interfaces: {eth1: {addresses: [10.60.0.2/24]}}}
    c: {host: $ID-h2, interfaces: {eth1: {addresses: [10.60.0.3/24]}}}
    x: {host: $ID-h1, interfaces: {eth1: {addresses: [10.61.0.1/24]}}}
    y: {host: $ID-h2, interfaces: {eth1: {addresses: [10.61.0.2/24]}}}
    z: {host: $ID-h2, interfaces: {eth1: {addresses: [10.61.0.3/24]}}}
  links:
    - endpoints: ["sw:p1", "a:eth1"]
    - endpoints: ["sw:p2", "b:eth1"]
      a-to-b: {rate: 10mbit}
    - endpoints: ["sw:p3", "c:eth1"]
    - endpoints: ["hub:p1", "x:eth1"]
    - endpoints: ["hub:p2", "y:eth1"]
    - endpoints: ["hub:p3", "z:eth1"]
YAML

"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.247.0/24 >"$TMP/start.log"
"$EMUCTL" up "$TMP/seg.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"

# Packets node $1 received on eth1 so far (its namespace's /proc/net/dev).
rx_packets() {
  "$EMUCTL" exec "$LAB" "$1" -- cat /proc/net/dev |
    awk -F'[: ]+' '$2 == "eth1" { print $4 }'
}
reach() { "$EMUCTL" exec "$LAB" "$1" -- ping -c 1 -W 1 "$2"; }

# Switch: a (h1) <-> b (h2) through sw (h1); b's port crosses the hosts.
wait_for 20 reach a 10.60.0.2 || fail "a cannot reach b through the switch"
reach b 10.60.0.1 >/dev/null || fail "b cannot reach a through the switch"
reach c 10.60.0.1 >/dev/null || fail "c cannot reach a through the switch"
before=$(rx_packets c)
"$EMUCTL" exec "$LAB" a -- ping -c 20 -i 0.05 -W 2 10.60.0.2 >/dev/null || fail "ping a->b"
seen=$(( $(rx_packets c) - before ))
echo "switch: c received $seen frames while a and b exchanged 40"
[[ $seen -lt 20 ]] || fail "c received $seen frames of a<->b: the switch floods"

# The switch's port towards b shapes at 10 Mbit/s: 10 x 1448/1514 = 9.56.
"$EMUCTL" exec "$LAB" sw -- tc qdisc show dev p2 | has "tbf.*rate 10Mbit" ||
  fail "no 10 Mbit/s TBF on sw:p2: $("$EMUCTL" exec "$LAB" sw -- tc qdisc show dev p2)"
mbps=$(iperf_goodput "$LAB" b a 10.60.0.2)
[[ -n $mbps ]] || fail "iperf3 a->b did not run"
echo "a->b through the switch's 10mbit port: $mbps Mbit/s"
within_5pct "$mbps" 9.56 ||
  fail "goodput $mbps Mbit/s, want 9.56 +-5%"

# Hub: x (h1) <-> y (h2); z (h2) sees every frame of theirs.
wait_for 20 reach x 10.61.0.2 || fail "x cannot reach y through the hub"
before=$(rx_packets z)
"$EMUCTL" exec "$LAB" x -- ping -c 20 -i 0.05 -W 2 10.61.0.2 >/dev/null || fail "ping x->y"
seen=$(( $(rx_packets z) - before ))
echo "hub: z received $seen frames while x and y exchanged 40"
[[ $seen -ge 40 ]] || fail "z received only $seen of the 40 frames of x<->y: the hub does not flood"

# kill -9 of the switch's agent takes the tunnel TAPs (its ports towards b
# and c) with it; the supervisor restarts the agent, which re-creates them
# and makes them ports of the switch again.
host_pid() {  # host_pid N: the pid of agent N (1-based)
  grep -oE '"pid": *[0-9]+' "$EMU_CLUSTER" | sed -n "$1p" | grep -oE '[0-9]+$'
}
pid_changed() { [ "$(host_pid 1)" != "$1" ] && kill -0 "$(host_pid 1)" 2>/dev/null; }
old=$(host_pid 1)
[[ -n $old ]] || fail "no pid of h1's agent in $EMU_CLUSTER"
kill -9 "$old"
wait_for 30 pid_changed "$old" || fail "h1's agent was not restarted"
wait_for 30 reach b 10.60.0.3 || fail "b cannot reach c through the switch after h1's agent restarted"
sw_port_shaped() { "$EMUCTL" exec "$LAB" sw -- tc qdisc show dev p2 | has "tbf.*rate 10Mbit"; }
wait_for 20 sw_port_shaped ||
  fail "sw:p2 lost its 10 Mbit/s TBF across the restart: $("$EMUCTL" exec "$LAB" sw -- tc qdisc show dev p2 2>&1)"

# containerlab's kind: bridge deploys as emu's own bridge.
"$EMUCTL" up "$RUNFILES/examples/containerlab-bridge.clab.yml" >"$TMP/clab.log" 2>&1 ||
  fail "up containerlab-bridge: $(cat "$TMP/clab.log")"
wait_for 20 "$EMUCTL" exec clab-bridge n1 -- ping -c 1 -W 1 192.168.0.3 ||
  fail "n1 cannot reach n3 through br-clab"
"$EMUCTL" down clab-bridge >/dev/null

"$EMUCTL" down "$LAB" >/dev/null
left=$(ls /run/netns | grep -c "^emu\.$ID-h" || true)
[[ $left -eq 0 ]] || fail "$left node namespaces left after down"
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
