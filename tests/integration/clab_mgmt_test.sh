#!/usr/bin/env bash
# containerlab's management network on a 1-host local cluster, with
# `emuctl up` as a user runs it (issue 12). A containerlab file with
# `mgmt:` (its own subnets), fixed and free mgmt-ipv4/6, a node in host
# network mode, a mgmt-net endpoint and a mgmt-net link: the lab's bridge
# is in the host's namespace (the agent's: a local cluster's host is a
# namespace of its own) with the gateways, tagged as the lab's; every
# netns node's eth0 has its addresses and the default route through the
# gateway, the host-mode node has no eth0; the nodes reach each other and
# the host over it (IPv4 and IPv6); the mgmt-net ends are ports of the
# bridge. A second lab with an overlapping subnet, a subnet the host
# routes already and a file with a management address outside its subnet
# are refused with one clear line each, leaving nothing. After `down` neither the bridge nor any host end
# is left. Needs root; touches only names with its own cluster id, and
# addresses in 172.20.136.0/24 and a route to 172.20.138.0/24 inside its
# cluster's host namespace.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test c6

"$EMUCTL" local start --name "$ID" --hosts 1 --subnet 198.18.130.0/24 >"$TMP/start.log"
HOSTNS=emuhost-$ID-h1
in_host() { ip netns exec "$HOSTNS" "$@"; }
# The lab's management bridges in the host's namespace, by their alias.
mgmt_bridges() { in_host ip -d -o link show type bridge | grep -oE "^[0-9]+: [^:@]+" | awk '{print $2}' |
  while read -r b; do in_host ip -d link show dev "$b" | grep -q "alias emu lab=$1 mgmt=$b host=$ID-h1" && echo "$b"; done; true; }

cat >"$TMP/mgmt.clab.yml" <<'YAML'
name: c6mgmt
mgmt:
  network: c6net
  ipv4-subnet: 172.20.136.0/24
  ipv6-subnet: 3fff:172:20:136::/64
topology:
  nodes:
    l1:
      kind: linux
      image: alpine:3
      mgmt-ipv4: 172.20.136.99
      mgmt-ipv6: 3fff:172:20:136::99
    l2:
      kind: linux
    l3:
      kind: linux
      network-mode: host
  links:
    - endpoints: ["l1:eth1", "l2:eth1"]
    - endpoints: ["l2:eth2", "mgmt-net:c6l2eth2"]
    - type: mgmt-net
      host-interface: c6l1eth3
      endpoint: {node: l1, interface: eth3}
YAML
"$EMUCTL" up "$TMP/mgmt.clab.yml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
bridge=$(mgmt_bridges c6mgmt)
[[ $(wc -w <<<"$bridge") == 1 ]] || fail "expected one management bridge of c6mgmt in $HOSTNS, found '$bridge': $(in_host ip -d link show type bridge)"
in_host ip -o addr show dev "$bridge" | has "inet 172.20.136.1/24" ||
  fail "bridge $bridge lacks the gateway 172.20.136.1/24: $(in_host ip -o addr show dev "$bridge")"
in_host ip -o addr show dev "$bridge" | has "inet6 3fff:172:20:136::1/64" ||
  fail "bridge $bridge lacks the gateway 3fff:172:20:136::1/64"
echo "management bridge $bridge in $HOSTNS with its gateways"

addr() { "$EMUCTL" exec c6mgmt "$1" -- ip -o addr show dev eth0; }
addr l1 | has "inet 172.20.136.99/24" || fail "l1:eth0 lacks 172.20.136.99/24: $(addr l1)"
addr l1 | has "inet6 3fff:172:20:136::99/64" || fail "l1:eth0 lacks 3fff:172:20:136::99/64: $(addr l1)"
# l2 asked for none: the lowest free after the gateway.
addr l2 | has "inet 172.20.136.2/24" || fail "l2:eth0 lacks 172.20.136.2/24: $(addr l2)"
addr l2 | has "inet6 3fff:172:20:136::2/64" || fail "l2:eth0 lacks 3fff:172:20:136::2/64: $(addr l2)"
if "$EMUCTL" exec c6mgmt l3 -- ip link show dev eth0 >/dev/null 2>&1; then
  fail "l3 (network-mode host) has an eth0"
fi
"$EMUCTL" exec c6mgmt l1 -- ip route show default | has "via 172.20.136.1 dev eth0" ||
  fail "l1 has no default route through the gateway: $("$EMUCTL" exec c6mgmt l1 -- ip route)"
echo "eth0 addresses: l1 $(addr l1 | grep -oE 'inet [0-9./]+'), l2 $(addr l2 | grep -oE 'inet [0-9./]+'); l3 none"

# Reachability over the management network: node to node, both families,
# and the host (the gateway) to a node.
wait_for 10 "$EMUCTL" exec c6mgmt l1 -- ping -c 1 -W 1 172.20.136.2 >/dev/null ||
  fail "l1 cannot reach l2 (172.20.136.2) over the management network"
wait_for 10 "$EMUCTL" exec c6mgmt l2 -- ping -6 -c 1 -W 1 3fff:172:20:136::99 >/dev/null ||
  fail "l2 cannot reach l1 (3fff:172:20:136::99) over the management network"
wait_for 10 in_host ping -c 1 -W 1 172.20.136.99 >/dev/null ||
  fail "the host cannot reach l1 (172.20.136.99) through $bridge"
echo "reachability: l1 <-> l2 (IPv4, IPv6), host -> l1 ok"

# mgmt-net ends: ports of the bridge, up, owned by the lab.
for end in c6l2eth2 c6l1eth3; do
  in_host ip -o link show dev "$end" >"$TMP/$end.link" 2>&1 || fail "no $end in $HOSTNS"
  has "master $bridge" <"$TMP/$end.link" || fail "$end is not a port of $bridge: $(cat "$TMP/$end.link")"
  has "state UP\|,UP" <"$TMP/$end.link" || fail "$end is not up: $(cat "$TMP/$end.link")"
done
"$EMUCTL" exec c6mgmt l1 -- ip -o link show dev eth3 | has ",UP" || fail "l1:eth3 is not up"
echo "mgmt-net: c6l2eth2, c6l1eth3 are ports of $bridge"

# `emuctl up NAME.clab.yml` (a variant of the file by SED) must fail with
# a line matching PATTERN (grep's basic regex).
refused() {
  local name=$1 sed=$2 pattern=$3
  sed -e "s/^name: c6mgmt/name: c6$name/" -e "$sed" "$TMP/mgmt.clab.yml" >"$TMP/$name.clab.yml"
  if "$EMUCTL" up "$TMP/$name.clab.yml" >"$TMP/$name.log" 2>&1; then
    fail "$name: deployed, expected a refusal matching: $pattern"
  fi
  has "$pattern" <"$TMP/$name.log" || fail "$name: no clear error: $(cat "$TMP/$name.log")"
  echo "$name refused: $(grep -m1 -o "$pattern.*" "$TMP/$name.log")"
}
# A second lab on the same subnet: refused before anything is made.
refused over 's/c6l2eth2/c6o2/; s/c6l1eth3/c6o3/' \
  "management subnet 172.20.136.0/24 (.*over.clab.yml:2) overlaps 172.20.136.1/24 on interface $bridge of host $ID-h1 (the management bridge of lab c6mgmt"
[[ -z $(mgmt_bridges c6over) ]] || fail "the refused lab left a bridge"
! in_host ip link show dev c6o2 >/dev/null 2>&1 || fail "the refused lab left c6o2"
# A subnet the host routes already (here to nowhere): refused.
in_host ip route add unreachable 172.20.138.0/24
refused routed 's/172\.20\.136/172.20.138/g; s/3fff:172:20:136/3fff:172:20:138/g; s/c6l2eth2/c6r2/; s/c6l1eth3/c6r3/' \
  "management subnet 172.20.138.0/24 (.*routed.clab.yml:2) overlaps the route to 172.20.138.0/24.* of host $ID-h1"
in_host ip route del unreachable 172.20.138.0/24
[[ -z $(mgmt_bridges c6routed) ]] || fail "the refused lab left a bridge"
# A management address outside the subnet: refused naming file, line, node.
refused bad 's/172.20.136.99$/172.20.137.99/' \
  "bad.clab.yml:11: node l1: mgmt-ipv4 172.20.137.99: is outside the management subnet 172.20.136.0/24"

"$EMUCTL" down c6mgmt >"$TMP/down.log" 2>&1 || fail "down: $(cat "$TMP/down.log")"
[[ -z $(mgmt_bridges c6mgmt) ]] || fail "bridge left after down: $(mgmt_bridges c6mgmt)"
in_host ip -d -o link show | grep -E "alias emu lab=c6(mgmt|over)" >"$TMP/left" && fail "left after down: $(cat "$TMP/left")"
for end in c6l2eth2 c6l1eth3; do
  ! in_host ip link show dev "$end" >/dev/null 2>&1 || fail "$end left after down"
done
in_host ip -o addr show | grep "172.20.136" >"$TMP/left" && fail "addresses left after down: $(cat "$TMP/left")"
echo "down: no bridge, host end or address left"

"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
