#!/usr/bin/env bash
# Carrier vxlan (issue 10): a lab's cross-host links as kernel VXLAN devices
# between two emulated hosts of a local cluster. Checks: the up log and the
# kernel show a vxlan device with the link's VNI in each end's namespace and
# no tunnel; ping across; the sending rate is TBF on the device (TCP goodput
# near the configured rate), a live `link set --rate` changes it, a delay
# (which needs the userspace engine here: no sch_netem) is refused naming
# the carrier, link and host; status says "kernel (vxlan)"; a lab whose
# vxlan link needs the engine is refused by placement before anything is
# made; kill -9 of one agent leaves its end in place, the restarted
# agent keeps the device (same ifindex) and restores its TBF, removed
# while it was down; down leaves nothing. Needs root; touches only names with
# its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test en4v
ID=en4v$(( $$ % 1000 ))  # at most 7 characters
export EMU_CLUSTER=/run/emu/$ID/cluster.json
LAB=vx$ID
ns() { echo "emu.$ID-$1.$LAB.$2"; }
between() { awk -v v="$1" -v l="$2" -v h="$3" 'BEGIN { exit !(v >= l && v <= h) }'; }
host_pid() {  # host_pid N: the pid of agent N (1-based)
  grep -oE '"pid": *[0-9]+' "$EMU_CLUSTER" | sed -n "$1p" | grep -oE '[0-9]+$'
}

"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.170.0/24 >"$TMP/start.log" 2>&1 ||
  fail "local start: $(cat "$TMP/start.log")"
cat >"$TMP/lab.yaml" <<YAML
name: $LAB
carrier: vxlan
topology:
  nodes:
    a: {host: $ID-h1, interfaces: {eth1: {addresses: [10.79.1.1/24]}}}
    b: {host: $ID-h2, interfaces: {eth1: {addresses: [10.79.1.2/24]}}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      a-to-b: {rate: 20mbit}
YAML
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
grep -q "vxlan end, VNI" "$TMP/up.log" || fail "no vxlan end in: $(cat "$TMP/up.log")"
if grep -q "tcp tunnel end" "$TMP/up.log"; then fail "a tunnel: $(cat "$TMP/up.log")"; fi

# Both ends are VXLAN devices with the same VNI, in the nodes' namespaces.
vni_of() { ip -d -n "$(ns "$1" "$2")" link show eth1 | grep -oE 'vxlan id [0-9]+' | grep -oE '[0-9]+$'; }
va=$(vni_of h1 a) || fail "a:eth1 is no vxlan: $(ip -d -n "$(ns h1 a)" link show eth1 2>&1)"
vb=$(vni_of h2 b) || fail "b:eth1 is no vxlan: $(ip -d -n "$(ns h2 b)" link show eth1 2>&1)"
[[ -n $va && $va == "$vb" ]] || fail "VNIs differ: $va vs $vb"
ip -n "$(ns h1 a)" link show eth1 | has "alias emu lab=$LAB link=a:eth1<->b:eth1 carrier=vxlan vni=$va" ||
  fail "alias: $(ip -n "$(ns h1 a)" link show eth1)"
echo "a:eth1 and b:eth1: vxlan id $va"

# status: the ENGINE column says the link is in a kernel VXLAN device.
"$EMUCTL" status "$LAB" >"$TMP/status.txt" 2>&1 || fail "status: $(cat "$TMP/status.txt")"
grep -q "a->b .*kernel (vxlan)" "$TMP/status.txt" || fail "status a->b: $(cat "$TMP/status.txt")"
grep -q "b->a .*none (vxlan)" "$TMP/status.txt" || fail "status b->a: $(cat "$TMP/status.txt")"

wait_for 20 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.79.1.2 || fail "a cannot reach b"
ip netns exec "$(ns h1 a)" ping -n -q -i 0.01 -c 200 -W 1 10.79.1.2 >"$TMP/ping.log" 2>&1 ||
  fail "ping: $(cat "$TMP/ping.log")"
grep -q " 0% packet loss" "$TMP/ping.log" || fail "loss without conditions: $(cat "$TMP/ping.log")"
echo "ping a->b: $(grep rtt "$TMP/ping.log")"

# TBF on a's end at 20 Mbit/s: TCP goodput 20 x MSS/frame (1398/1464 at
# the VXLAN MTU 1450) = 19.1; b's direction is unshaped.
tc -n "$(ns h1 a)" qdisc show dev eth1 | has "tbf" || fail "no tbf on a:eth1: $(tc -n "$(ns h1 a)" qdisc show dev eth1)"
g=$(iperf_goodput "$LAB" b a 10.79.1.2)
between "${g:-0}" 16 20.5 || fail "goodput a->b ${g:-none} Mbit/s, configured 20 Mbit/s"
echo "goodput a->b at rate 20mbit: $g Mbit/s"

"$EMUCTL" link set "$LAB" "a:eth1<->b:eth1" --dir a-to-b --rate 8mbit >"$TMP/set.log" 2>&1 ||
  fail "link set: $(cat "$TMP/set.log")"
g=$(iperf_goodput "$LAB" b a 10.79.1.2)
between "${g:-0}" 6.4 8.2 || fail "goodput a->b ${g:-none} Mbit/s after link set, configured 8 Mbit/s"
echo "goodput a->b after link set --rate 8mbit: $g Mbit/s"

# A delay needs the userspace engine on these hosts (no sch_netem), which a
# kernel VXLAN path cannot take: refused, naming the carrier; nothing changes.
if "$EMUCTL" link set "$LAB" "a:eth1<->b:eth1" --delay 10ms >"$TMP/delay.log" 2>&1; then
  if tc -n "$(ns h1 a)" qdisc show dev eth1 | has netem; then
    echo "this host has sch_netem: the delay went to the kernel"
  else
    fail "delay accepted on a vxlan link: $(cat "$TMP/delay.log")"
  fi
else
  grep -q "carrier vxlan" "$TMP/delay.log" || fail "refusal does not name the carrier: $(cat "$TMP/delay.log")"
  grep -q "link a:eth1<->b:eth1 a-to-b: .*(host $ID-h1)" "$TMP/delay.log" ||
    fail "refusal does not name the link and host: $(cat "$TMP/delay.log")"
  echo "delay refused: $(grep -o 'link a:eth1.*' "$TMP/delay.log" | head -c 200)"
fi

# A lab whose vxlan link needs the engine (ber: only the engine has it,
# NetEm or not) is refused by placement before anything is made, naming
# the file's line, the link, the direction and the sending host.
cat >"$TMP/lab2.yaml" <<YAML
name: ${LAB}b
carrier: vxlan
topology:
  nodes:
    c: {host: $ID-h1, interfaces: {eth1: {addresses: [10.79.2.1/24]}}}
    d: {host: $ID-h2, interfaces: {eth1: {addresses: [10.79.2.2/24]}}}
  links:
    - endpoints: ["c:eth1", "d:eth1"]
      b-to-a: {ber: 1e-6}
YAML
if "$EMUCTL" up "$TMP/lab2.yaml" >"$TMP/up2.log" 2>&1; then
  fail "up of a vxlan lab with ber accepted: $(cat "$TMP/up2.log")"
fi
grep -q "lab2.yaml:[0-9]*: link c:eth1<->d:eth1 b-to-a: .*carrier vxlan.*(host $ID-h2)" "$TMP/up2.log" ||
  fail "refusal of lab2: $(cat "$TMP/up2.log")"
made=$(ip netns list | grep -c "\.${LAB}b\." || true)
[[ $made -eq 0 ]] || fail "refused lab left $made namespaces"
echo "refused up front: $(grep -o 'lab2.yaml.*' "$TMP/up2.log" | head -c 200)"

# kill -9 of h1's agent: a's end stays (a kernel device outlives it); its
# TBF, deleted by hand while the agent is down, is restored by the
# restarted agent's reconcile (RecoverAll, with the rate of the live
# change), which keeps the device itself (same ifindex).
idx_before=$(ip -n "$(ns h1 a)" -o link show eth1 | cut -d: -f1)
old=$(host_pid 1)
[[ -n $old ]] || fail "no pid for agent 1 in $EMU_CLUSTER"
kill -9 "$old"
tc -n "$(ns h1 a)" qdisc del dev eth1 root 2>/dev/null || true
ip -n "$(ns h1 a)" link show eth1 >/dev/null || fail "a:eth1 went with its agent"
pid_changed() { local p; p=$(host_pid 1); [[ -n $p && $p != "$old" ]] && kill -0 "$p" 2>/dev/null; }
wait_for 30 pid_changed || fail "agent 1 was not restarted"
has_rate() { tc -n "$(ns h1 a)" qdisc show dev eth1 | has "rate 8Mbit"; }
wait_for 30 has_rate || fail "the restarted agent did not restore a's TBF: $(tc -n "$(ns h1 a)" qdisc show dev eth1)"
idx_after=$(ip -n "$(ns h1 a)" -o link show eth1 | cut -d: -f1)
[[ $idx_before == "$idx_after" ]] || fail "a:eth1 re-created ($idx_before -> $idx_after)"
wait_for 20 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.79.1.2 || fail "a cannot reach b after the restart"
echo "after kill -9 of h1's agent: a:eth1 kept (ifindex $idx_after), its TBF restored, ping ok"

# The devices' UDP sockets are in the hosts' namespaces (not the nodes');
# down deletes the nodes' namespaces, the devices with them, and so the
# sockets.
udp_port() { ip netns exec "emuhost-$ID-h$1" ss -H -uln 'sport = :4789' 2>/dev/null | grep -c . || true; }
for h in 1 2; do
  [[ $(udp_port $h) -ge 1 ]] || fail "no VXLAN socket on host h$h: $(ip netns exec "emuhost-$ID-h$h" ss -uln 2>&1)"
done
# The controller's channel to the restarted agent was in its reconnect
# backoff, and `down` failed "Connection refused" 2 runs in 8 until the
# controller made a failed channel try again before each call
# (common/channel_reconnect.h): once, at the first try.
"$EMUCTL" down "$LAB" >"$TMP/down.log" 2>&1 || fail "down right after the agent's restart: $(cat "$TMP/down.log")"
for h in 1 2; do
  no_socket() { [[ $(udp_port "$1") -eq 0 ]]; }
  wait_for 10 no_socket $h || fail "a VXLAN socket left on host h$h after down: $(ip netns exec "emuhost-$ID-h$h" ss -uln 2>&1)"
done
echo "down: no VXLAN socket left on either host"
wait_for 30 "$EMUCTL" local stop --name "$ID" ||
  fail "local stop: $("$EMUCTL" local stop --name "$ID" 2>&1)"
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
