#!/usr/bin/env bash
# Users and what each may do (issue 8), on a local cluster of one host: the
# administrator (the cluster token) adds alice and bob; each deploys a lab
# `core` with the same node names, interfaces and addresses on the same
# host; they stay apart (namespaces, traffic); bob cannot see, exec in or
# destroy alice's lab; a node's commands see only that node's processes and
# cannot write the host's files, yet configure and ping; a viewer share lets him see but not exec; a quota
# refusal creates nothing; a rotated token is refused; the users survive a
# controller restart. Needs root; touches only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test u

as_alice() { "$EMUCTL" --token-file "$TMP/alice.token" "$@"; }
as_bob() { EMU_TOKEN=$(cat "$TMP/bob.token") "$EMUCTL" "$@"; }
# expect_denied WHAT CMD...: CMD fails with PERMISSION_DENIED naming WHAT.
expect_denied() {
  local what=$1; shift
  if "$@" >"$TMP/denied.out" 2>&1; then fail "allowed: $* ($(cat "$TMP/denied.out"))"; fi
  grep -q "$what" "$TMP/denied.out" || fail "$*: refusal does not say '$what': $(cat "$TMP/denied.out")"
}
# in_echos WHO NODE: ICMP echo requests NODE of WHO's core has received (its
# namespace's /proc/net/snmp; IPv6 autoconfiguration noise does not count).
in_echos() {
  "as_$1" exec core "$2" -- awk '/^Icmp:/ { if (!h) { split($0, k); h = 1 }
    else { split($0, v); for (i in k) if (k[i] == "InEchos") print v[i] } }' /proc/net/snmp
}

"$EMUCTL" local start --name "$ID" --subnet 198.18.236.0/24 >"$TMP/start.log" 2>&1 ||
  fail "start: $(cat "$TMP/start.log")"

# ---- the administrator adds two users; tokens are files of mode 0600 ------
"$EMUCTL" user add alice --quota labs=2,nodes=4 --save "$TMP/alice.token" 2>"$TMP/add.log" ||
  fail "user add alice: $(cat "$TMP/add.log")"
"$EMUCTL" user add bob --save "$TMP/bob.token" 2>>"$TMP/add.log"
[[ $(stat -c %a "$TMP/alice.token") == 600 ]] || fail "token file mode $(stat -c %a "$TMP/alice.token")"
expect_denied "already exists" "$EMUCTL" user add alice
expect_denied "bob is not an administrator" as_bob user add mallory

# ---- identical labs of two users on one host --------------------------------
cat >"$TMP/core.yaml" <<YAML
name: core
topology:
  nodes:
    a: {interfaces: {eth1: {addresses: [10.77.0.1/24]}}}
    b: {interfaces: {eth1: {addresses: [10.77.0.2/24]}}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
YAML
as_alice up "$TMP/core.yaml" >"$TMP/up-alice.log" 2>&1 || fail "alice up: $(cat "$TMP/up-alice.log")"
as_bob up "$TMP/core.yaml" >"$TMP/up-bob.log" 2>&1 || fail "bob up: $(cat "$TMP/up-bob.log")"
ls /run/netns >"$TMP/netns"
for ns in "emu.$ID-h1.alice+core.a" "emu.$ID-h1.bob+core.a"; do
  grep -qx "$ns" "$TMP/netns" || fail "namespace $ns missing: $(grep "$ID" "$TMP/netns")"
done

# Traffic stays in its lab: alice's ping reaches alice's b, not bob's.
bob_before=$(in_echos bob b)
alice_before=$(in_echos alice b)
as_alice exec core a -- ping -c 5 -i 0.2 -W 2 10.77.0.2 >/dev/null || fail "alice: no ping inside her lab"
alice_after=$(in_echos alice b)
bob_after=$(in_echos bob b)
(( alice_after == alice_before + 5 )) || fail "alice's b got $((alice_after - alice_before)) echo requests, want 5"
[[ $bob_after == "$bob_before" ]] || fail "bob's b received alice's pings ($bob_before -> $bob_after echo requests)"

# ---- a node's commands are root in the node only (node sandbox) ------------
# A host process, a process in bob's node a: neither is visible from alice's
# node a, nor from bob's node b; bob's a sees its own. `sleep` with a count
# no one else uses marks each.
sleep 987651 &
host_sleep=$!
as_bob exec core a -- sh -c 'sleep 987652 </dev/null >/dev/null 2>&1 &' ||
  fail "bob: background command in his node"
cmdlines() { "as_$1" exec core "$2" -- sh -c 'cat /proc/[0-9]*/cmdline | tr "\0" " "'; }
cmdlines alice a >"$TMP/alice-a.ps" || fail "alice: read /proc in her node"
cmdlines bob a >"$TMP/bob-a.ps"
cmdlines bob b >"$TMP/bob-b.ps"
grep -q 987652 "$TMP/bob-a.ps" || fail "bob's a does not see its own process: $(cat "$TMP/bob-a.ps")"
grep -q emu-node-sandbox "$TMP/alice-a.ps" || fail "no node init in alice's a: $(cat "$TMP/alice-a.ps")"
for f in alice-a bob-a bob-b; do
  grep -q 987651 "$TMP/$f.ps" && fail "$f sees a host process: $(cat "$TMP/$f.ps")"
  grep -qE "emu-agent|emu-controller" "$TMP/$f.ps" && fail "$f sees the agent: $(cat "$TMP/$f.ps")"
done
grep -q 987652 "$TMP/alice-a.ps" && fail "alice's node sees bob's process"
grep -q 987652 "$TMP/bob-b.ps" && fail "bob's node b sees his node a's process"
n=$(as_alice exec core a -- sh -c 'ls /proc | grep -c "^[0-9]"')
(( n <= 4 )) || fail "alice's node lists $n processes, want its own few"
if as_alice exec core a -- kill -0 "$host_sleep" 2>/dev/null; then fail "alice's node can signal host pid $host_sleep"; fi
kill -0 "$host_sleep" || fail "the host's sleep is gone"
kill "$host_sleep"; wait "$host_sleep" 2>/dev/null || true
# The host's file system: read-only; its secrets and other labs' namespaces hidden.
probe=/var/tmp/emu-sandbox-probe-$ID
for target in "$probe" /etc/emu-sandbox-probe-$ID; do
  if as_alice exec core a -- sh -c "echo x >$target" 2>/dev/null; then fail "alice's node wrote $target"; fi
  [[ -e $target ]] && { rm -f "$target"; fail "alice's node created host file $target"; }
done
# /etc/shadow is root's on the host (mode 640): hidden, not only guarded.
as_alice exec core a -- cat /etc/shadow 2>/dev/null | has "^root:" &&
  fail "alice's node reads the host's /etc/shadow"
if as_alice exec core a -- mount -t tmpfs none /mnt 2>/dev/null; then fail "alice's node may mount"; fi
as_alice exec core a -- sh -c 'ls /run/netns 2>/dev/null' | has . && fail "alice's node sees /run/netns"
as_alice exec core a -- sh -c "echo x >/tmp/node-file-$ID && cat /tmp/node-file-$ID" | has -x x ||
  fail "alice's node cannot write its own /tmp"
[[ -e /tmp/node-file-$ID ]] && fail "the node's /tmp is the host's"
# What a node needs still works: addresses, net sysctls, ping in its lab.
as_alice exec core a -- ip addr add 10.77.9.1/24 dev eth1 || fail "alice: ip addr add in her node"
as_alice exec core a -- ip -4 addr show dev eth1 | has 10.77.9.1 || fail "address not there"
as_alice exec core a -- sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward' || fail "alice: net sysctl"
if as_alice exec core a -- sh -c 'echo 1 >/proc/sys/kernel/sysrq' 2>/dev/null; then fail "alice's node wrote a kernel sysctl"; fi
as_alice exec core a -- ping -c 1 -W 2 10.77.0.2 >/dev/null || fail "alice: ping after the address change"

# ---- another user's lab: PERMISSION_DENIED naming it --------------------------
expect_denied "lab alice/core: bob may not view it" as_bob status alice/core
expect_denied "lab alice/core: bob may not exec in it" as_bob exec alice/core a -- true
expect_denied "lab alice/core: bob may not destroy it" as_bob down alice/core
# The same answer for a lab that does not exist: nothing is revealed.
expect_denied "lab alice/nothing: bob may not view it" as_bob status alice/nothing
as_bob status >"$TMP/bob-ls.txt"
grep -q alice "$TMP/bob-ls.txt" && fail "bob's list shows alice's lab: $(cat "$TMP/bob-ls.txt")"
as_alice status core | has "^State:  RUNNING$" || fail "alice's lab was touched"

# The administrator sees both, with an owner column.
"$EMUCTL" status >"$TMP/admin-ls.txt"
grep -qE "^OWNER +NAME" "$TMP/admin-ls.txt" || fail "no owner column: $(cat "$TMP/admin-ls.txt")"
grep -qE "^alice +core +RUNNING" "$TMP/admin-ls.txt" || fail "admin list: $(cat "$TMP/admin-ls.txt")"
grep -qE "^bob +core +RUNNING" "$TMP/admin-ls.txt" || fail "admin list: $(cat "$TMP/admin-ls.txt")"

# ---- a viewer share: bob sees, but may not exec or destroy ------------------
as_alice share core --with bob --role viewer >/dev/null
as_bob status alice/core >"$TMP/shared.txt" || fail "viewer cannot see: $(cat "$TMP/shared.txt")"
grep -q "^Owner:  alice$" "$TMP/shared.txt" || fail "shared lab: $(cat "$TMP/shared.txt")"
expect_denied "lab alice/core: bob may not exec in it" as_bob exec alice/core a -- true
expect_denied "lab alice/core: bob may not destroy it" as_bob down alice/core
expect_denied "bob may not share it" as_bob share alice/core --with all

# ---- quota: refused before anything is created -------------------------------
cat >"$TMP/big.yaml" <<YAML
name: big
topology:
  nodes:
    a: {interfaces: {eth1: {addresses: [10.78.0.1/24]}}}
    b: {interfaces: {eth1: {addresses: [10.78.0.2/24]}}}
    c: {}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
YAML
if as_alice up "$TMP/big.yaml" >"$TMP/quota.log" 2>&1; then fail "deploy beyond quota accepted"; fi
grep -q "quota nodes: lab big needs 3, alice has 2 of 4 in use" "$TMP/quota.log" ||
  fail "quota refusal: $(cat "$TMP/quota.log")"
ls /run/netns | has "alice+big" && fail "quota refusal left namespaces"
expect_denied "not found" as_alice status big

# ---- rotation: the old token stops at once -----------------------------------
cp "$TMP/bob.token" "$TMP/bob-old.token"
rm "$TMP/bob.token"
"$EMUCTL" user token bob --save "$TMP/bob.token" 2>/dev/null
expect_denied "rejected the token" "$EMUCTL" --token-file "$TMP/bob-old.token" status
as_bob status core >/dev/null || fail "bob's new token refused"

# ---- a controller restart keeps users, tokens and shares ---------------------
ctl=$(grep -oE '"controller_pid": *[0-9]+' "$EMU_CLUSTER" | grep -oE '[0-9]+$')
kill -9 "$ctl"
controller_back() {
  local pid
  pid=$(grep -oE '"controller_pid": *[0-9]+' "$EMU_CLUSTER" | grep -oE '[0-9]+$')
  [[ $pid != "$ctl" ]] && as_alice status core >/dev/null
}
wait_for 30 controller_back || fail "controller not back: $(tail -5 "/run/emu/$ID/logs/supervisor.log")"
"$EMUCTL" user ls >"$TMP/users.txt"
grep -qE "^alice +no +1 +2 " "$TMP/users.txt" || fail "users after restart: $(cat "$TMP/users.txt")"
grep -qE "^bob " "$TMP/users.txt" || fail "users after restart: $(cat "$TMP/users.txt")"
as_bob status alice/core >/dev/null || fail "share lost in the restart"

# ---- removal: refused while bob has labs, then his token stops ---------------
expect_denied "still has labs" "$EMUCTL" user rm bob
as_bob down core >/dev/null
"$EMUCTL" user rm bob >/dev/null
expect_denied "rejected the token" as_bob status
ls /run/netns | has "bob+core" && fail "bob's namespaces left after down"
as_alice exec core a -- ping -c 1 -W 2 10.77.0.2 >/dev/null || fail "alice's lab broken by bob's down"

as_alice down core >/dev/null
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo "users_test: all checks passed"
