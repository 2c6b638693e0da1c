#!/usr/bin/env bash
# containerlab's management network added to and removed from a running lab
# with `emuctl apply` (issue 12), on a 1-host local cluster. A lab of three
# linux nodes without `mgmt:` runs; applying the same file with `mgmt:`
# (and a fixed mgmt-ipv4) adds the lab's bridge in the host's namespace
# with its gateway and every node's eth0 with its address and default
# route, the nodes reach each other over it, and the data link keeps its
# addresses; applying the file without `mgmt:` again removes the bridge,
# every host end and every eth0 (and its default route), the data link
# untouched; applying it once more adds it back; renaming only its bridge
# (no node changes) moves bridge, ports and gateway; `down` leaves nothing.
# Needs root; touches only names with its own cluster id and addresses in
# 172.20.196.0/24 inside its cluster's host namespace.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test c7m
# At most 7 characters: c7m and four digits.
ID=c7m$(( $$ % 10000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json

"$EMUCTL" local start --name "$ID" --hosts 1 --subnet 198.18.198.0/24 >"$TMP/start.log"
HOSTNS=emuhost-$ID-h1
in_host() { ip netns exec "$HOSTNS" "$@"; }
# The lab's management bridges and host ends in the host's namespace.
mgmt_objects() { in_host ip -d -o link show | grep -oE "alias emu lab=c7mapply [^ ]+" || true; }

cat >"$TMP/without.clab.yml" <<'YAML'
name: c7mapply
topology:
  nodes:
    l1: {kind: linux}
    l2: {kind: linux}
    l3: {kind: linux}
  links:
    - endpoints: ["l1:eth1", "l2:eth1"]
      ipv4: [198.18.199.1/30, 198.18.199.2/30]
YAML
{
  echo "name: c7mapply"
  echo "mgmt:"
  echo "  ipv4-subnet: 172.20.196.0/24"
  sed -n '/^topology:/,$p' "$TMP/without.clab.yml" |
    sed 's/^    l3: {kind: linux}/    l3: {kind: linux, mgmt-ipv4: 172.20.196.30}/'
} >"$TMP/with.clab.yml"

"$EMUCTL" up "$TMP/without.clab.yml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
eth0() { "$EMUCTL" exec c7mapply "$1" -- ip -o addr show dev eth0 2>&1; }
for n in l1 l2 l3; do
  if eth0 $n >/dev/null; then fail "$n has an eth0 before mgmt: is applied"; fi
done
[[ -z $(mgmt_objects) ]] || fail "a management object before mgmt: $(mgmt_objects)"

data_link_intact() {
  "$EMUCTL" exec c7mapply l1 -- ip -o addr show dev eth1 | has "inet 198.18.199.1/30" ||
    fail "l1:eth1 lost its address ($1)"
  wait_for 10 "$EMUCTL" exec c7mapply l1 -- ping -c 1 -W 1 198.18.199.2 ||
    fail "l1 no longer reaches l2 over eth1 ($1)"
}

added() {
  "$EMUCTL" apply "$TMP/with.clab.yml" >"$TMP/apply-$1.log" 2>&1 ||
    fail "apply with mgmt ($1): $(cat "$TMP/apply-$1.log")"
  bridge=$(mgmt_objects | grep -oE "mgmt=[^ ]+" | cut -d= -f2 | sort -u)
  [[ $(wc -w <<<"$bridge") == 1 ]] || fail "expected one management bridge after apply ($1): $(mgmt_objects)"
  in_host ip -o addr show dev "$bridge" | has "inet 172.20.196.1/24" ||
    fail "bridge $bridge lacks the gateway ($1)"
  eth0 l1 | has "inet 172.20.196.2/24" || fail "l1:eth0 after apply ($1): $(eth0 l1)"
  eth0 l2 | has "inet 172.20.196.3/24" || fail "l2:eth0 after apply ($1): $(eth0 l2)"
  eth0 l3 | has "inet 172.20.196.30/24" || fail "l3:eth0 after apply ($1): $(eth0 l3)"
  for n in l1 l2 l3; do
    "$EMUCTL" exec c7mapply $n -- ip route show default | has "via 172.20.196.1 dev eth0" ||
      fail "$n has no default route through the gateway ($1)"
  done
  # Three host ends, each a port of the bridge.
  [[ $(in_host ip -o link show master "$bridge" | wc -l) == 3 ]] ||
    fail "expected 3 ports of $bridge ($1): $(in_host ip -o link show master "$bridge")"
  wait_for 10 "$EMUCTL" exec c7mapply l1 -- ping -c 1 -W 1 172.20.196.30 ||
    fail "l1 cannot reach l3 over the management network ($1)"
  wait_for 10 in_host ping -c 1 -W 1 172.20.196.3 ||
    fail "the host cannot reach l2 through $bridge ($1)"
  data_link_intact "$1"
  echo "apply with mgmt ($1): bridge $bridge with 3 ports, eth0 on l1 l2 l3, reachable"
}
removed() {
  "$EMUCTL" apply "$TMP/without.clab.yml" >"$TMP/remove-$1.log" 2>&1 ||
    fail "apply without mgmt ($1): $(cat "$TMP/remove-$1.log")"
  [[ -z $(mgmt_objects) ]] || fail "left after removing mgmt ($1): $(mgmt_objects)"
  in_host ip -o addr show | grep "172.20.196" >"$TMP/left" &&
    fail "addresses left after removing mgmt ($1): $(cat "$TMP/left")"
  for n in l1 l2 l3; do
    if eth0 $n >/dev/null; then fail "$n still has eth0 after removing mgmt ($1): $(eth0 $n)"; fi
    if "$EMUCTL" exec c7mapply $n -- ip route show default | has "172.20.196.1"; then
      fail "$n keeps the default route through the gateway ($1)"
    fi
  done
  data_link_intact "$1"
  echo "apply without mgmt ($1): no bridge, host end or eth0 left"
}
added first
removed first
added again
# Only the network's own settings change (no node's eth0 does): the
# bridge is renamed, its ports and gateway move with it.
sed 's/^  ipv4-subnet: 172.20.196.0\/24/&\n  bridge: c7mbr0/' "$TMP/with.clab.yml" >"$TMP/renamed.clab.yml"
"$EMUCTL" apply "$TMP/renamed.clab.yml" >"$TMP/rename.log" 2>&1 || fail "apply renamed: $(cat "$TMP/rename.log")"
has "~ management network: bridge (emu's name) -> c7mbr0" <"$TMP/rename.log" ||
  fail "the renamed bridge is not a change: $(cat "$TMP/rename.log")"
[[ $(mgmt_objects | grep -oE "mgmt=[^ ]+" | sort -u) == "mgmt=c7mbr0" ]] ||
  fail "expected bridge c7mbr0 only: $(mgmt_objects)"
[[ $(in_host ip -o link show master c7mbr0 | wc -l) == 3 ]] || fail "c7mbr0 lacks its 3 ports"
in_host ip -o addr show dev c7mbr0 | has "inet 172.20.196.1/24" || fail "c7mbr0 lacks the gateway"
wait_for 10 "$EMUCTL" exec c7mapply l2 -- ping -c 1 -W 1 172.20.196.30 ||
  fail "l2 cannot reach l3 through c7mbr0"
echo "apply with the bridge renamed: c7mbr0 with 3 ports and the gateway"

"$EMUCTL" down c7mapply >"$TMP/down.log" 2>&1 || fail "down: $(cat "$TMP/down.log")"
[[ -z $(mgmt_objects) ]] || fail "left after down: $(mgmt_objects)"
in_host ip -o addr show | grep "172.20.196" >"$TMP/left" && fail "addresses left after down: $(cat "$TMP/left")"
! ip netns list | has c7mapply || fail "namespaces left after down"
echo "down: nothing of c7mapply left"

"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
