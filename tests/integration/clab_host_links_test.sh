#!/usr/bin/env bash
# containerlab's host and dummy links on a 1-host local cluster, with
# `emuctl up` as a user runs it (issue 12). tests/containerlab/
# host-links.clab.yml: each host end exists in the host's namespace (the
# agent's: a local cluster's host is a namespace of its own) with its
# address, MTU and peer, and a ping from the host's namespace reaches the
# node (198.18.251.1, in the lab's namespace) through it; after kill -9 of
# the agent with a host end deleted by hand, the restarted agent makes the
# pair again; `down` leaves no host end. A host-interface name the host
# already has (made here, not by the lab) is refused with one clear error
# and left as it was. tests/containerlab/dummy-links.clab.yml: the dummy
# interfaces exist, up, with their address, MAC and MTU. Needs root;
# touches only names with its own cluster id, and the one interface it
# makes in its cluster's host namespace.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
CORPUS=$RUNFILES/tests/containerlab
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test ch

"$EMUCTL" local start --name "$ID" --hosts 1 --subnet 198.18.214.0/24 >"$TMP/start.log"
HOSTNS=emuhost-$ID-h1
in_host() { ip netns exec "$HOSTNS" "$@"; }

# --- host links -------------------------------------------------------
"$EMUCTL" up "$CORPUS/host-links.clab.yml" >"$TMP/up.log" 2>&1 ||
  fail "up host-links: $(cat "$TMP/up.log")"
for end in ch-a-eth1 ch-b-eth1 ch-b-eth2; do
  in_host ip -o link show dev "$end" >"$TMP/$end.link" 2>&1 ||
    fail "host end $end is not in the host's namespace: $(cat "$TMP/$end.link")"
  grep -q "state UP\|,UP" "$TMP/$end.link" || fail "$end is not up: $(cat "$TMP/$end.link")"
done
in_host ip -o addr show dev ch-a-eth1 | grep "inet 198.18.251.2/30" >/dev/null ||
  fail "ch-a-eth1 lacks 198.18.251.2/30: $(in_host ip -o addr show dev ch-a-eth1)"
in_host ip -o link show dev ch-a-eth1 | grep "mtu 9000" >/dev/null ||
  fail "ch-a-eth1 lacks the link's mtu 9000: $(in_host ip -o link show dev ch-a-eth1)"
in_host ip -o addr show dev ch-b-eth2 | grep "inet6 fd00:251::2/64" >/dev/null ||
  fail "ch-b-eth2 lacks fd00:251::2/64: $(in_host ip -o addr show dev ch-b-eth2)"
"$EMUCTL" exec corpus-host b -- ip -o link show dev eth1 | grep "02:00:00:00:0b:01" >/dev/null ||
  fail "b:eth1 lacks its MAC"
"$EMUCTL" exec corpus-host a -- ip -o addr show dev eth1 | grep "inet 198.18.251.1/30" >/dev/null ||
  fail "a:eth1 lacks 198.18.251.1/30"
# The host end's peer is the node's interface (the pair's alias names both).
in_host ip -d link show dev ch-a-eth1 | grep "alias emu lab=corpus-host hostlink=a:eth1<->host:ch-a-eth1 host=$ID-h1" >/dev/null ||
  fail "ch-a-eth1 carries no owner alias: $(in_host ip -d link show dev ch-a-eth1)"
# Through it: from the host's namespace to the node's address (the lab's
# namespace), and back.
wait_for 10 in_host ping -c 1 -W 1 198.18.251.1 ||
  fail "the host cannot reach a (198.18.251.1) through ch-a-eth1"
"$EMUCTL" exec corpus-host a -- ping -c 1 -W 1 198.18.251.2 >/dev/null ||
  fail "a cannot reach the host end 198.18.251.2"
echo "host link: ping host <-> a through ch-a-eth1 ok"

# Owned: emuctl's view of what the agent holds lists the host end.
# kill -9 of the agent, the host end deleted by hand while it is down: the
# restarted agent (the local cluster's supervisor starts it) makes the pair
# again from its saved spec.
host_pid() { grep -oE '"pid": *[0-9]+' "$EMU_CLUSTER" | sed -n "$1p" | grep -oE '[0-9]+$'; }
pid_changed() { [ "$(host_pid 1)" != "$1" ] && kill -0 "$(host_pid 1)" 2>/dev/null; }
old=$(host_pid 1)
[[ -n $old ]] || fail "no pid of h1's agent in $EMU_CLUSTER"
kill -9 "$old"
in_host ip link del ch-a-eth1
wait_for 30 pid_changed "$old" || fail "h1's agent was not restarted"
wait_for 30 in_host ping -c 1 -W 1 198.18.251.1 ||
  fail "after the agent's restart, the host cannot reach a through ch-a-eth1: $(in_host ip -o addr show dev ch-a-eth1 2>&1)"
echo "host link: re-made by the restarted agent"

"$EMUCTL" down corpus-host >"$TMP/down.log" 2>&1 || fail "down: $(cat "$TMP/down.log")"
for end in ch-a-eth1 ch-b-eth1 ch-b-eth2; do
  if in_host ip link show dev "$end" >/dev/null 2>&1; then
    fail "host end $end left after down"
  fi
done

# --- a name the host has already (not the lab's) -----------------------
in_host ip link add ch-busy type bridge
cat >"$TMP/busy.clab.yml" <<YAML
name: chbusy
topology:
  nodes:
    a: {kind: linux}
  links:
    - endpoints: ["a:eth1", "host:ch-busy"]
YAML
if "$EMUCTL" up "$TMP/busy.clab.yml" >"$TMP/busy.log" 2>&1; then
  in_host ip link del ch-busy
  fail "up took over the host's ch-busy"
fi
grep -q "host interface ch-busy already exists on host $ID-h1 and was not made by emu" "$TMP/busy.log" || {
  in_host ip link del ch-busy; fail "no clear error for ch-busy: $(cat "$TMP/busy.log")"; }
in_host ip -d link show dev ch-busy | grep bridge >/dev/null || fail "ch-busy was changed"
in_host ip link del ch-busy
echo "host link: an existing name is refused: $(grep -m1 ch-busy "$TMP/busy.log")"

# --- dummy links -------------------------------------------------------
"$EMUCTL" up "$CORPUS/dummy-links.clab.yml" >"$TMP/dummy.log" 2>&1 ||
  fail "up dummy-links: $(cat "$TMP/dummy.log")"
d0=$("$EMUCTL" exec corpus-dummy a -- ip -d -o link show dev dummy0)
grep -qE "(dummy|ifb) " <<<"$d0" || fail "dummy0 is neither dummy nor ifb: $d0"
grep -q "mtu 9500" <<<"$d0" || fail "dummy0 lacks mtu 9500: $d0"
grep -q "02:00:00:00:0d:01" <<<"$d0" || fail "dummy0 lacks its MAC: $d0"
grep -q ",UP" <<<"$d0" || fail "dummy0 is not up: $d0"
"$EMUCTL" exec corpus-dummy a -- ip -o addr show dev dummy0 | grep "inet 192.0.2.1/32" >/dev/null ||
  fail "dummy0 lacks 192.0.2.1/32"
"$EMUCTL" exec corpus-dummy a -- ip -o link show dev dummy1 >/dev/null || fail "no dummy1"
echo "dummy link: $(grep -oE '(dummy|ifb) ' <<<"$d0")interface up with its address"
"$EMUCTL" down corpus-dummy >/dev/null

"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
