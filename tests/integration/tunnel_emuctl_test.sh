#!/usr/bin/env bash
# A lab spread over three emulated hosts with `emuctl up`, as a user runs
# it: the controller's placement sends cross-host links to the agents, which
# carry them through TCP tunnels. a (h1) -- b (h2, router) -- c (h3), both
# links cross hosts. Checks ping and shaped iperf3 across two tunnels, the
# tunnels' sockets, and that down + stop leave nothing. Needs root; touches
# only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test u

cat >"$TMP/spread.yaml" <<YAML
name: spread$ID
topology:
  nodes:
    a:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.77.1.1/24]}
      routes: [{to: default, via: 10.77.1.2}]
    b:
      host: $ID-h2
      sysctls: {net.ipv4.ip_forward: 1}
      interfaces:
        eth1: {addresses: [10.77.1.2/24]}
        eth2: {addresses: [10.77.2.1/24]}
    c:
      host: $ID-h3
      interfaces:
        eth1: {addresses: [10.77.2.2/24]}
      routes: [{to: default, via: 10.77.2.1}]
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      rate: 100mbit
    - endpoints: ["b:eth2", "c:eth1"]
YAML
LAB=spread$ID

"$EMUCTL" local start --name "$ID" --hosts 3 --subnet 198.18.253.0/24 >"$TMP/start.log"
"$EMUCTL" up "$TMP/spread.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
grep -q "tcp tunnel end" "$TMP/up.log" || fail "no tunnel in: $(cat "$TMP/up.log")"

# a reaches c through b: two tunnels (h1-h2, h2-h3).
ok=
for _ in $(seq 50); do
  if "$EMUCTL" exec "$LAB" a -- ping -c 1 -W 1 10.77.2.2 >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.2
done
[[ -n $ok ]] || fail "a cannot reach c across the tunnels"
"$EMUCTL" exec "$LAB" a -- ping -c 3 -W 2 10.77.2.2 >/dev/null || fail "ping a->c"

# One established tunnel socket per cross-host link end: h2 holds two.
n=$(ip netns exec "emuhost-$ID-h2" ss -Htn state established '( sport = :7472 or dport = :7472 )' | wc -l)
[[ $n -eq 2 ]] || fail "h2 has $n tunnel connections, want 2"

# The 100 Mbit/s link shapes across the tunnel: 100 x 1448/1514 = 95.6.
mbps=$(iperf_goodput "$LAB" c a 10.77.2.2)
[[ -n $mbps ]] || fail "iperf3 a->c did not run"
echo "a->c across two tunnels, 100mbit link: $mbps Mbit/s"
within_5pct "$mbps" 95.64 ||
  fail "goodput $mbps Mbit/s, want 95.6 +-5%"

"$EMUCTL" down "$LAB" >/dev/null
for h in 1 2 3; do
  n=$(ip netns exec "emuhost-$ID-h$h" ss -Htn state established '( sport = :7472 or dport = :7472 )' | wc -l)
  [[ $n -eq 0 ]] || fail "h$h keeps $n tunnel connections after down"
done
left=$(ls /run/netns | grep -c "^emu\.$ID-h" || true)
[[ $left -eq 0 ]] || fail "$left node namespaces left after down"
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
left=$(ip -o link 2>/dev/null | grep -c "emubr-$ID\|emuv-$ID" || true)
[[ $left -eq 0 ]] || fail "cluster interfaces left after stop"
echo PASS
