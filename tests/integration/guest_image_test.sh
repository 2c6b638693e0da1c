#!/usr/bin/env bash
# Guest images as an administrator and a user drive them: `emuctl image ls`
# and `image build` through the controller to the agent (the debian recipe:
# debootstrap, minutes the first time, "up to date" after), a lab with a
# guest booted from it next to a namespace, exec in its Debian userland,
# a write that survives `emuctl restart` of the node (its own qcow2 overlay
# over the shared base disk), a bad request refused at the API, and after
# `down` no overlay, no guest directory, nothing of the cluster. Needs root
# and Debian's archive (debootstrap's cache: /var/cache/emu/debootstrap).
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test gi
cleanup() {
  "$EMUCTL" down deb >/dev/null 2>&1 || true
  cluster_test_cleanup
}
trap cleanup EXIT

"$EMUCTL" local start --name "$ID" --subnet 198.18.236.0/24 >"$TMP/start.log"

# A name that is a path never reaches an agent.
if "$EMUCTL" image build ../etc >"$TMP/bad" 2>&1; then fail "image build ../etc accepted"; fi
grep -q "name: image '../etc'" "$TMP/bad" || fail "bad name: $(cat "$TMP/bad")"
if "$EMUCTL" image build deb --recipe debian --package 'frr;x' >"$TMP/bad" 2>&1; then
  fail "a bad package name accepted"
fi
grep -q "packages: package 'frr;x'" "$TMP/bad" || fail "bad package: $(cat "$TMP/bad")"

start=$(now)
"$EMUCTL" image build debian --recipe debian >"$TMP/build" 2>&1 ||
  fail "image build: $(cat "$TMP/build")"
echo "image build debian: $(elapsed "$start") s: $(tail -1 "$TMP/build")"
grep -q "^\[.*\] $ID-h1: image debian \(built in\|up to date\)" "$TMP/build" ||
  fail "build output: $(cat "$TMP/build")"
# Again: nothing to do.
"$EMUCTL" image build debian --recipe debian >"$TMP/build2" 2>&1 ||
  fail "second build: $(cat "$TMP/build2")"
grep -q "$ID-h1: image debian up to date" "$TMP/build2" || fail "not idempotent: $(cat "$TMP/build2")"

"$EMUCTL" image ls >"$TMP/ls" || fail "image ls: $(cat "$TMP/ls")"
grep -q "^$ID-h1 *debian *disk *[0-9].*cloud-amd64" "$TMP/ls" || fail "image ls: $(cat "$TMP/ls")"
grep -q "^$ID-h1 *default *initramfs" "$TMP/ls" ||
  [[ ! -d /var/lib/emu/images/default ]] || fail "default image not listed: $(cat "$TMP/ls")"

cat >"$TMP/deb.yaml" <<'LAB'
name: deb
placement: {overcommit: true}
topology:
  nodes:
    d1:
      kind: qemu
      image: debian
      memory: 384MiB
      interfaces:
        eth1: {addresses: [10.0.9.1/24]}
    ns1:
      interfaces:
        eth1: {addresses: [10.0.9.2/24]}
  links:
    - endpoints: ["d1:eth1", "ns1:eth1"]
      rate: 50mbit
LAB
start=$(now)
"$EMUCTL" up "$TMP/deb.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
echo "lab with a debian guest up in $(elapsed "$start") s"

"$EMUCTL" exec deb d1 -- cat /etc/os-release >"$TMP/os" || fail "exec: $(cat "$TMP/os")"
grep -q 'VERSION_CODENAME=bookworm' "$TMP/os" || fail "not Debian 12: $(cat "$TMP/os")"
"$EMUCTL" exec deb d1 -- hostname >"$TMP/hn"
[[ $(cat "$TMP/hn") == d1 ]] || fail "hostname $(cat "$TMP/hn")"
"$EMUCTL" exec deb d1 -- findmnt -n -o SOURCE,FSTYPE / >"$TMP/root" || true
grep -q "/dev/vda ext4" "$TMP/root" || fail "root fs: $(cat "$TMP/root")"
"$EMUCTL" exec deb ns1 -- ping -c 3 -i 0.3 -W 5 10.0.9.1 >"$TMP/ping" ||
  fail "ns1 cannot reach d1: $(cat "$TMP/ping")"

# Its own overlay over the shared base.
dir=""
for d in /run/emu/guests/*; do
  [[ -f $d/owner ]] && grep -qx "$ID-h1 deb d1" "$d/owner" && dir=$d
done
[[ -n $dir && -f $dir/disk.qcow2 ]] || fail "no overlay in the guest's directory ($dir)"
qemu-img info -U "$dir/disk.qcow2" >"$TMP/info"  # -U: QEMU holds its lock
grep -q "backing file: /var/lib/emu/images/debian/disk.raw" "$TMP/info" ||
  fail "overlay backing: $(cat "$TMP/info")"

# A write survives a restart of the node; the base disk is untouched.
base_sum=$(stat -c '%Y %s' /var/lib/emu/images/debian/disk.raw)
"$EMUCTL" exec deb d1 -- sh -c 'echo kept-$((6*7)) >/root/mark && sync' ||
  fail "write in the guest"
"$EMUCTL" restart deb d1 >"$TMP/restart" || fail "restart: $(cat "$TMP/restart")"
"$EMUCTL" exec deb d1 -- cat /root/mark >"$TMP/mark" || fail "read after restart"
[[ $(cat "$TMP/mark") == kept-42 ]] || fail "write lost across restart: $(cat "$TMP/mark")"
[[ $(stat -c '%Y %s' /var/lib/emu/images/debian/disk.raw) == "$base_sum" ]] ||
  fail "the base disk changed"

"$EMUCTL" down deb >/dev/null
[[ ! -e $dir ]] || fail "guest directory (and overlay) left: $dir"
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
echo PASS
