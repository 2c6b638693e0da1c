#!/usr/bin/env bash
# containerlab's vxlan and vxlan-stitch links (issue 12) on a 2-host local
# cluster: node a (on h1) has a `vxlan` link to h2's address, node b (on h2)
# a `vxlan-stitch` link to h1's, same VNI and port: each node's eth1 is a
# kernel VXLAN device with the link's VNI, remote and port, owned by alias,
# and a ping crosses from a to b through the two VTEPs (no emu link joins
# them). `emuctl apply` with another VNI makes both devices again and the
# ping still crosses. A second lab with the same VNI and port on h1 is
# refused naming the link and the host, and leaves the first lab as it was.
# `down` leaves no device. Needs root; touches only names with its own
# cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test lx
LAB=vx$ID
ns() { echo "emu.$ID-$1.$LAB.$2"; }

"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.125.0/24 >"$TMP/start.log" 2>&1 ||
  fail "local start: $(cat "$TMP/start.log")"

lab_file() {  # lab_file VNI > FILE
  cat <<YAML
name: $LAB
topology:
  nodes:
    a: {host: $ID-h1}
    b: {host: $ID-h2}
  links:
    - type: vxlan
      endpoint: {node: a, interface: eth1, ipv4: 10.78.0.1/24, mac: "02:00:00:00:78:01"}
      remote: 198.18.125.12
      vni: $1
      dst-port: 14790
    - type: vxlan-stitch
      endpoint: {node: b, interface: eth1, ipv4: 10.78.0.2/24}
      remote: 198.18.125.11
      vni: $1
      dst-port: 14790
YAML
}
lab_file 4242 >"$TMP/lab.yaml"
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
grep -q "link a:eth1 (vxlan 4242 to 198.18.125.12:14790)" "$TMP/up.log" ||
  fail "no vxlan link event in: $(cat "$TMP/up.log")"
grep -q "link b:eth1 (vxlan-stitch 4242 to 198.18.125.11:14790)" "$TMP/up.log" ||
  fail "no vxlan-stitch link event in: $(cat "$TMP/up.log")"

# The devices: a VXLAN with the VNI, remote and port, the node's address
# and MAC, tagged as the lab's.
check_dev() {  # check_dev HOST NODE VNI REMOTE
  local d
  d=$(ip -d -n "$(ns "$1" "$2")" link show eth1 2>&1) || fail "$2:eth1: $d"
  has "vxlan id $3 remote $4 " <<<"$d" || fail "$2:eth1 is not vxlan id $3 remote $4: $d"
  has "dstport 14790" <<<"$d" || fail "$2:eth1 port: $d"
  has "alias emu lab=$LAB vxlan=$2:eth1 vni=$3 remote=$4 port=14790" <<<"$d" ||
    fail "$2:eth1 alias: $d"
}
check_dev h1 a 4242 198.18.125.12
check_dev h2 b 4242 198.18.125.11
ip -n "$(ns h1 a)" link show eth1 | has "02:00:00:00:78:01" || fail "a:eth1 MAC"
ip -n "$(ns h2 b)" -o addr show eth1 | has "inet 10.78.0.2/24" || fail "b:eth1 address"

# Across: a's frames are VXLAN packets from h1's namespace to h2's address,
# decapsulated into b.
wait_for 20 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.78.0.2 ||
  fail "a cannot reach b through the VTEPs"
echo "ping a -> b through vni 4242 ok"

# Another VNI: both devices are made again.
lab_file 4243 >"$TMP/lab.yaml"
"$EMUCTL" apply "$TMP/lab.yaml" >"$TMP/apply.log" 2>&1 || fail "apply: $(cat "$TMP/apply.log")"
grep -q "eth1 vxlan 4242 to 198.18.125.12:14790 -> vxlan 4243 to 198.18.125.12:14790" "$TMP/apply.log" ||
  fail "apply did not show the change: $(cat "$TMP/apply.log")"
check_dev h1 a 4243 198.18.125.12
check_dev h2 b 4243 198.18.125.11
wait_for 20 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.78.0.2 ||
  fail "a cannot reach b after the VNI changed"
echo "apply: vni 4243, ping ok"

# The same VNI and port on h1 again (another lab): refused, naming the link
# and the host; the first lab keeps its device.
cat >"$TMP/clash.yaml" <<YAML
name: c$LAB
topology:
  nodes:
    c: {host: $ID-h1}
  links:
    - type: vxlan
      endpoint: {node: c, interface: eth1}
      remote: 198.18.125.12
      vni: 4243
      dst-port: 14790
YAML
if "$EMUCTL" up "$TMP/clash.yaml" >"$TMP/clash.log" 2>&1; then
  fail "a second device with vni 4243 on port 14790 was made: $(cat "$TMP/clash.log")"
fi
grep -q "host $ID-h1: link c:eth1 (vxlan 4243 to 198.18.125.12:14790): .*VNI" "$TMP/clash.log" ||
  fail "the refusal does not name the link and host: $(cat "$TMP/clash.log")"
if ls /run/netns | grep -q "^emu\.$ID-h1\.c$LAB\."; then
  fail "the refused lab left a namespace: $(ls /run/netns | grep "c$LAB")"
fi
check_dev h1 a 4243 198.18.125.12
echo "clash: refused, first lab untouched"

"$EMUCTL" down "$LAB" >"$TMP/down.log" 2>&1 || fail "down: $(cat "$TMP/down.log")"
for h in h1 h2; do
  if ip -d -n "emuhost-$ID-$h" link show type vxlan 2>/dev/null | grep -q "id 424[23]"; then
    fail "a vxlan device is left in emuhost-$ID-$h"
  fi
done
if ls /run/netns | grep -q "^emu\.$ID-h[12]\.$LAB\."; then
  fail "namespaces left: $(ls /run/netns | grep "$LAB")"
fi
echo "down: nothing left"
