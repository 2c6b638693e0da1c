#!/usr/bin/env bash
# containerlab's bridge inside a node and its stages on a 1-host local
# cluster, with `emuctl up` as a user runs it (issue 12).
# tests/containerlab/bridge-in-ns.clab.yml: bridge br01 exists, up, in
# bp1's namespace (not c1's), the link ends c1eth1/c2eth1 are bp1's and
# ports of br01, and c1 and c2 ping bp1's 198.18.190.1 (set on br01 by
# bp1's exec line) through it; `down` leaves nothing.
# tests/containerlab/stages.clab.yml: every stage command ran, in the order
# the stages and the wait-for give (the client's configure after the
# server's healthy), and a stage command that fails fails the deploy,
# naming it.
# tests/containerlab/netmodes.clab.yml: node2 uses node1's namespace
# (network-mode: container:node1). Needs root; touches only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
CORPUS=$RUNFILES/tests/containerlab
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test cl4
# At most 7 characters: cl4 and four digits.
ID=cl4$(( $$ % 10000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json

"$EMUCTL" local start --name "$ID" --hosts 1 --subnet 198.18.191.0/24 >"$TMP/start.log"

# --- a bridge inside a node --------------------------------------------
"$EMUCTL" up "$CORPUS/bridge-in-ns.clab.yml" >"$TMP/up.log" 2>&1 ||
  fail "up bridge-in-ns: $(cat "$TMP/up.log")"
in_bp1() { "$EMUCTL" exec corpus-brns bp1 -- "$@"; }
br=$(in_bp1 ip -d -o link show dev br01) || fail "bp1 has no br01"
grep -q "bridge " <<<"$br" || fail "br01 is not a bridge: $br"
grep -q "UP,LOWER_UP" <<<"$br" || fail "br01 is not up: $br"
for port in c1eth1 c2eth1; do
  p=$(in_bp1 ip -o link show dev $port) || fail "bp1 has no $port"
  grep -q "master br01" <<<"$p" || fail "$port is not a port of br01: $p"
  grep -q "state UP" <<<"$p" || fail "$port is not up: $p"
done
if "$EMUCTL" exec corpus-brns c1 -- ip link show dev br01 >/dev/null 2>&1; then
  fail "br01 is in c1 too"
fi
in_bp1 ip -o addr show dev br01 | has "inet 198.18.190.1/24" ||
  fail "bp1's exec line did not set 198.18.190.1 on br01"
for n in c1 c2; do
  wait_for 10 "$EMUCTL" exec corpus-brns $n -- ping -c 1 -W 1 198.18.190.1 ||
    fail "$n cannot reach bp1's br01 (198.18.190.1)"
done
"$EMUCTL" exec corpus-brns c1 -- ping -c 1 -W 1 198.18.190.3 >/dev/null ||
  fail "c1 cannot reach c2 through br01"
echo "bridge in bp1: br01 up with ports c1eth1, c2eth1; c1, c2 ping 198.18.190.1"
"$EMUCTL" down corpus-brns >/dev/null
if ip netns list | has "corpus-brns"; then fail "namespaces left after down"; fi

# --- nodes that share a namespace ---------------------------------------
# tests/containerlab/netmodes.clab.yml: node2 is node1's namespace under
# another name; its link end and address are node1's; node3 reaches it.
"$EMUCTL" up "$CORPUS/netmodes.clab.yml" >"$TMP/netmodes.log" 2>&1 ||
  fail "up netmodes: $(cat "$TMP/netmodes.log")"
grep -q "network-mode" "$TMP/netmodes.log" && fail "network-mode warned: $(cat "$TMP/netmodes.log")"
ino() { stat -L -c %d:%i "/run/netns/emu.$ID-h1.corpus-netmodes.$1"; }
[[ $(ino node1) == $(ino node2) ]] || fail "node2's namespace is not node1's: $(ino node1) vs $(ino node2)"
[[ $(ino node1) != $(ino node3) ]] || fail "node3 shares node1's namespace"
a=$("$EMUCTL" exec corpus-netmodes node1 -- ip -o addr show dev net0) || fail "node1 has no net0"
grep -q "inet 198.18.192.1/24" <<<"$a" || fail "node2's exec line's address is not on node1's net0: $a"
wait_for 10 "$EMUCTL" exec corpus-netmodes node3 -- ping -c 1 -W 1 198.18.192.1 ||
  fail "node3 cannot reach 198.18.192.1 (node2:net0 in node1's namespace)"
# Their commands have sandboxes of their own: node2 does not see node1's.
"$EMUCTL" exec corpus-netmodes node1 -- sh -c 'echo one >/tmp/who' >/dev/null
if "$EMUCTL" exec corpus-netmodes node2 -- cat /tmp/who >/dev/null 2>&1; then
  fail "node2 sees node1's /tmp"
fi
"$EMUCTL" down corpus-netmodes >/dev/null
[[ -z "$(ls /run/netns | grep corpus-netmodes)" ]] || fail "namespaces left after down: $(ls /run/netns | grep corpus-netmodes)"
echo "netmodes: node2 in node1's namespace (net0 198.18.192.1), node3 pings it, separate sandboxes"

# --- stages -------------------------------------------------------------
"$EMUCTL" up "$CORPUS/stages.clab.yml" >"$TMP/stages.log" 2>&1 ||
  fail "up stages: $(cat "$TMP/stages.log")"
order=$(grep -oE "ran on [a-z]+( \([a-z. -]+\))?: .*" "$TMP/stages.log")
expected="ran on server (stages.create-links on-exit): ls /sys/class/net/eth1
ran on server (stages.configure on-enter): ip link set lo up
ran on server: echo server-exec
ran on server (stages.healthy on-exit): echo server-healthy
ran on client (stages.configure on-enter): ip link set lo up
ran on client (stages.configure on-exit): echo client-configured"
[ "$order" = "$expected" ] ||
  fail "stage commands ran as
$order
and not as
$expected"
"$EMUCTL" down corpus-stages >/dev/null
echo "stages: 6 commands in order (client's configure after server's healthy)"

cat >"$TMP/failing.clab.yml" <<YAML
name: cl4fail
topology:
  nodes:
    a:
      kind: linux
      stages:
        configure:
          exec:
            - command: "false"
              phase: on-exit
YAML
if "$EMUCTL" up "$TMP/failing.clab.yml" >"$TMP/failing.log" 2>&1; then
  fail "a failing stage command did not fail the deploy"
fi
grep -q "node a: stages.configure on-exit \`false\` exited 1" "$TMP/failing.log" ||
  fail "no clear error for the failing stage command: $(cat "$TMP/failing.log")"
"$EMUCTL" down cl4fail >/dev/null 2>&1 || true
if ip netns list | has "cl4fail"; then fail "a failed deploy left namespaces"; fi
echo "stages: a failing command fails the deploy: $(grep -m1 'stages.configure' "$TMP/failing.log")"

"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
