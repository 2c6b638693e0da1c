#!/usr/bin/env bash
# Community networks (issue 8, docs/community.md) on a 3-host local cluster,
# with emuctl as three users run it. Alice deploys a backbone whose switch
# sw1 (h1) is exported as ix1 to bob and carol; Bob and Carol deploy labs
# attached to it with their routers on h2 and h3; Bob's router pings
# Carol's through Alice's switch. Bob cannot see, exec in or destroy
# Alice's lab; attaching to an endpoint that is not exported, or not to the
# caller, fails at `up` naming it, with nothing created. Alice down: Bob's
# and Carol's labs stay up, DEGRADED naming the attachment; Alice up again:
# Bob pings Carol again without anyone touching their labs. Carol down: the
# switch loses just her port. Run time: `emuctl community export/unexport`
# (operator role: Bob may not), attaching and detaching Dave's lab at once;
# an interface export (rs:eth9 as alice/p1) takes Bob's second lab and
# refuses Carol's while Bob has it; `emuctl status` names an attachment's
# anchor community:OWNER/NAME. `emuctl link set` on Bob's attached lab
# changes an ordinary link and the attachment, also while it is detached,
# and the attachment returns with them. Unexporting the interface export
# removes rs:eth9 with its address; exporting it again brings both back.
# `emuctl apply` adds a node to Bob's lab while his ping to Carol crosses
# the switch, without a loss. Needs root; touches only names with its own
# cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test c

as() { local who=$1; shift; "$EMUCTL" --token-file "$TMP/$who.token" "$@"; }
# expect_refused WHAT CMD...: CMD fails and says WHAT.
expect_refused() {
  local what=$1; shift
  if "$@" >"$TMP/refused.out" 2>&1; then fail "allowed: $* ($(cat "$TMP/refused.out"))"; fi
  grep -qF "$what" "$TMP/refused.out" || fail "$*: refusal does not say '$what': $(cat "$TMP/refused.out")"
}
ports_of_sw1() { ip -n "emu.$ID-h1.alice+backbone.sw1" -o link show master emuseg | awk -F': ' '{print $2}' | cut -d@ -f1 | sort; }

"$EMUCTL" local start --name "$ID" --hosts 3 --subnet 198.18.244.0/24 >"$TMP/start.log" 2>&1 ||
  fail "start: $(cat "$TMP/start.log")"
for who in alice bob carol dave; do
  "$EMUCTL" user add "$who" --save "$TMP/$who.token" >/dev/null 2>>"$TMP/add.log" ||
    fail "user add $who: $(cat "$TMP/add.log")"
done

# ---- Alice's backbone: switch sw1 on h1, exported as ix1 --------------------
cat >"$TMP/backbone.yaml" <<YAML
name: backbone
community:
  export:
    - {name: ix1, segment: sw1, to: [bob, carol]}
    - {name: p1, interface: "rs:eth9", to: [bob, carol]}
topology:
  nodes:
    sw1: {kind: switch, host: $ID-h1}
    rs: {host: $ID-h1, interfaces: {eth1: {addresses: [10.100.0.1/24]}, eth9: {addresses: [10.101.0.1/30]}}}
  links:
    - endpoints: ["sw1:p0", "rs:eth1"]
YAML
# attached USER ADDRESS ENDPOINT HOST: a one-router lab attached to ENDPOINT.
attached() {
  cat <<YAML
name: edge
topology:
  nodes:
    r1: {host: $ID-$4, interfaces: {eth1: {addresses: [$2/24]}}}
  links:
    - endpoints: ["r1:eth1", "community:$3"]
      rate: 100mbit
YAML
}
# Bob's has one more router, r2 behind r1: an ordinary link beside the
# attachment, for `emuctl link set`.
cat >"$TMP/bob.yaml" <<YAML
name: edge
topology:
  nodes:
    r1: {host: $ID-h2, interfaces: {eth1: {addresses: [10.100.0.11/24]}, eth2: {addresses: [10.102.0.1/30]}}}
    r2: {host: $ID-h2, interfaces: {eth1: {addresses: [10.102.0.2/30]}}}
  links:
    - endpoints: ["r1:eth1", "community:alice/ix1"]
      rate: 100mbit
    - endpoints: ["r1:eth2", "r2:eth1"]
      rate: 50mbit
YAML
attached carol 10.100.0.12 alice/ix1 h3 >"$TMP/carol.yaml"

as alice up "$TMP/backbone.yaml" >"$TMP/up-alice.log" 2>&1 || fail "alice up: $(cat "$TMP/up-alice.log")"
as bob up "$TMP/bob.yaml" >"$TMP/up-bob.log" 2>&1 || fail "bob up: $(cat "$TMP/up-bob.log")"
as carol up "$TMP/carol.yaml" >"$TMP/up-carol.log" 2>&1 || fail "carol up: $(cat "$TMP/up-carol.log")"

reach() { as "$1" exec edge r1 -- ping -c 1 -W 1 "$2"; }
wait_for 20 reach bob 10.100.0.12 || fail "bob's r1 cannot reach carol's through alice's switch"
reach carol 10.100.0.11 >/dev/null || fail "carol's r1 cannot reach bob's"
reach bob 10.100.0.1 >/dev/null || fail "bob's r1 cannot reach alice's rs"
echo "bob -> carol through alice/ix1: $(as bob exec edge r1 -- ping -c 3 -i 0.2 -W 2 10.100.0.12 | tail -1)"
# The routers run on other hosts than the switch; each attachment is one
# port of sw1, owned by the attaching lab (its key on the agents).
[[ -e /run/netns/emu.$ID-h2.bob+edge.r1 && -e /run/netns/emu.$ID-h3.carol+edge.r1 ]] ||
  fail "routers not on h2/h3: $(ls /run/netns | grep "$ID")"
[[ $(ports_of_sw1 | wc -l) == 3 ]] || fail "sw1 ports: $(ports_of_sw1 | tr '\n' ' ')"
as bob status edge | has "^State:  RUNNING$" || fail "bob's lab: $(as bob status edge)"

# ---- emuctl apply adds a node to Bob's lab while a ping crosses the switch ---
# r3 behind r2 (h2); the attachment r1 <-> alice/ix1 is untouched: Bob's
# ping to Carol through Alice's switch loses nothing meanwhile.
sed -e 's|^  links:|    r3: {host: '"$ID"'-h2, interfaces: {eth1: {addresses: [10.103.0.2/30]}}}\n  links:|' \
    -e 's|^    r2: {host: \([^,]*\), interfaces: {eth1: {addresses: \[10.102.0.2/30\]}}}|    r2: {host: \1, interfaces: {eth1: {addresses: [10.102.0.2/30]}, eth2: {addresses: [10.103.0.1/30]}}}|' \
    "$TMP/bob.yaml" >"$TMP/bob-r3.yaml"
echo '    - endpoints: ["r2:eth2", "r3:eth1"]' >>"$TMP/bob-r3.yaml"
grep -q "r3:eth1" "$TMP/bob-r3.yaml" && grep -q "eth2: {addresses: \[10.103.0.1/30\]}" "$TMP/bob-r3.yaml" ||
  fail "bob-r3.yaml: $(cat "$TMP/bob-r3.yaml")"
# (exec prints when the command ends: the ping, 6 s, outlasts the apply)
as bob exec edge r1 -- ping -c 60 -i 0.1 -W 1 10.100.0.12 >"$TMP/apply-ping.txt" 2>&1 &
ping_pid=$!
as bob apply "$TMP/bob-r3.yaml" >"$TMP/apply-r3.txt" 2>&1 || fail "bob apply +r3: $(cat "$TMP/apply-r3.txt")"
ping_running=0; kill -0 "$ping_pid" 2>/dev/null && ping_running=1
wait "$ping_pid" || fail "ping during apply: $(cat "$TMP/apply-ping.txt")"
((ping_running)) || echo "note: the ping ended before the apply did"
grep -q "+ node r3" "$TMP/apply-r3.txt" || fail "apply did not print the added node: $(cat "$TMP/apply-r3.txt")"
grep -q " 0% packet loss" "$TMP/apply-ping.txt" || fail "bob's ping lost packets during apply: $(tail -2 "$TMP/apply-ping.txt")"
as bob exec edge r3 -- ping -c 1 -W 2 10.103.0.1 >/dev/null || fail "the added r3 does not reach r2"
echo "apply +r3 while pinging carol: $(grep -o '[0-9]* packets transmitted.*loss' "$TMP/apply-ping.txt")"
as bob apply "$TMP/bob.yaml" >"$TMP/apply-back.txt" 2>&1 || fail "bob apply -r3: $(cat "$TMP/apply-back.txt")"
[[ $(ports_of_sw1 | wc -l) == 3 ]] || fail "sw1 ports after bob's applies: $(ports_of_sw1 | tr '\n' ' ')"

# ---- emuctl community ls -----------------------------------------------------
as bob community ls >"$TMP/ls-bob.txt"
cat "$TMP/ls-bob.txt"
grep -qE "^alice/ix1 +alice/backbone +sw1 +bob,carol +up +.*bob/edge r1:eth1.*carol/edge r1:eth1" "$TMP/ls-bob.txt" ||
  fail "community ls (bob): $(cat "$TMP/ls-bob.txt")"
as dave community ls | has "no community endpoints" || fail "dave sees alice/ix1: $(as dave community ls)"

# ---- Bob may attach, not see, exec in or destroy -----------------------------
expect_refused "lab alice/backbone: bob may not view it" as bob status alice/backbone
expect_refused "lab alice/backbone: bob may not exec in it" as bob exec alice/backbone rs -- true
expect_refused "lab alice/backbone: bob may not destroy it" as bob down alice/backbone
# The anchor of his attachment is not a way into Alice's namespace.
anchor=$(as bob status edge --json | grep -oE '"c-[0-9a-f]{8}"' | head -1 | tr -d '"')
[[ -n $anchor ]] || fail "no anchor in bob's status: $(as bob status edge --json)"
expect_refused "is its port on community segment" as bob exec edge "$anchor" -- true
# Status names the anchor by the endpoint, not by its internal name.
as bob status edge >"$TMP/bob-status.txt"
grep -q "^community:alice/ix1 " "$TMP/bob-status.txt" || fail "anchor not shown as community:alice/ix1: $(cat "$TMP/bob-status.txt")"
grep -q "^r1:eth1<->community:alice/ix1 " "$TMP/bob-status.txt" || fail "link not shown with community:alice/ix1: $(cat "$TMP/bob-status.txt")"
grep -q "c-[0-9a-f]\{8\}" "$TMP/bob-status.txt" && fail "status shows the internal anchor name: $(cat "$TMP/bob-status.txt")"

# ---- emuctl link set on an attached lab: an ordinary link, the attachment ---
# (a = r1's end: its egress TBF is in r1's namespace)
# (grep on a captured output: `| grep -q` under pipefail fails when the
# writer gets SIGPIPE after grep's first match)
rate_on() { grep -q "rate $2" <<<"$(ip netns exec "emu.$ID-h2.bob+edge.r1" tc qdisc show dev "$1")"; }
tc_of() { ip netns exec "emu.$ID-h2.bob+edge.r1" tc qdisc show dev "$1"; }
rate_on eth1 100Mbit && rate_on eth2 50Mbit || fail "r1 not shaped as the file says: $(tc_of eth1; tc_of eth2)"
as bob link set edge r1:eth2 --rate 20mbit >"$TMP/set.txt" 2>&1 || fail "link set r1:eth2: $(cat "$TMP/set.txt")"
rate_on eth2 20Mbit || fail "r1:eth2 not at 20Mbit after link set: $(tc_of eth2)"
as bob link set edge "community:alice/ix1<->r1:eth1" --rate 30mbit >"$TMP/set.txt" 2>&1 ||
  fail "link set of the attachment: $(cat "$TMP/set.txt")"
rate_on eth1 30Mbit || fail "r1:eth1 not at 30Mbit after link set: $(tc_of eth1)"
as bob status edge | grep -E "^r1:eth1<->community:alice/ix1 " | has "30Mbit" ||
  fail "status does not show the attachment at 30Mbit: $(as bob status edge)"
reach bob 10.100.0.12 >/dev/null || fail "bob lost carol after link set"
expect_refused "has no link r1:eth1<->community:alice/ix9" as bob link set edge "r1:eth1<->community:alice/ix9" --rate 1mbit

# ---- refused at up, naming the endpoint, nothing created ---------------------
attached dave 10.100.0.13 alice/ix1 h2 >"$TMP/dave.yaml"
expect_refused "dave.yaml:6: link r1:eth1<->community:alice/ix1: community endpoint alice/ix1 does not exist or is not exported to dave" \
  as dave up "$TMP/dave.yaml"
attached bob 10.100.0.14 alice/ix9 h2 | sed 's/^name: edge/name: edge2/' >"$TMP/bob2.yaml"
expect_refused "community endpoint alice/ix9 does not exist or is not exported to bob" \
  as bob up "$TMP/bob2.yaml"
ls /run/netns | has -E "dave\+|bob\+edge2" && fail "a refused attach left namespaces: $(ls /run/netns | grep "$ID")"
expect_refused "not found" as dave status edge
[[ $(ports_of_sw1 | wc -l) == 3 ]] || fail "a refused attach touched sw1: $(ports_of_sw1 | tr '\n' ' ')"

# ---- emuctl community export / unexport on the running lab ------------------
expect_refused "lab alice/backbone: bob may not change the community exports of it" \
  as bob community export alice/backbone sw1 --name ix2 --to bob
attached dave 10.100.0.13 alice/ix2 h2 | sed 's/^name: edge/name: late/' >"$TMP/dave2.yaml"
expect_refused "community endpoint alice/ix2 does not exist or is not exported to dave" \
  as dave up "$TMP/dave2.yaml"
as alice community export backbone sw1 --name ix2 --to dave >"$TMP/export.txt" ||
  fail "community export: $(cat "$TMP/export.txt")"
grep -qE "^alice/ix2 +alice/backbone +sw1 +dave +up" "$TMP/export.txt" || fail "export printed: $(cat "$TMP/export.txt")"
expect_refused "already exported" as alice community export backbone sw1 --name ix2 --to all
expect_refused "only a switch, hub or bridge" as alice community export backbone rs --name ix3
as dave up "$TMP/dave2.yaml" >"$TMP/up-dave.log" 2>&1 || fail "dave up after export: $(cat "$TMP/up-dave.log")"
dave_reach() { as dave exec late r1 -- ping -c 1 -W 1 10.100.0.1; }
wait_for 20 dave_reach || fail "dave's r1 cannot reach alice's rs through alice/ix2"
as alice community unexport backbone ix2 >/dev/null || fail "community unexport"
as dave status late >"$TMP/dave-degraded.txt" || true
grep -q "^State:  DEGRADED$" "$TMP/dave-degraded.txt" || fail "dave's lab after unexport: $(cat "$TMP/dave-degraded.txt")"
grep -q "r1:eth1<->community:alice/ix2" "$TMP/dave-degraded.txt" || fail "DEGRADED does not name ix2: $(cat "$TMP/dave-degraded.txt")"
as alice community export backbone sw1 --name ix2 --to dave >/dev/null || fail "export again"
wait_for 30 dave_reach || fail "dave not re-attached after the export came back: $(as dave status late)"
as dave down late >/dev/null || fail "dave down"

# ---- An interface export: one attachment at a time --------------------------
cat >"$TMP/bob-port.yaml" <<YAML
name: port
topology:
  nodes:
    r1: {host: $ID-h3, interfaces: {eth1: {addresses: [10.101.0.2/30]}}}
  links:
    - endpoints: ["r1:eth1", "community:alice/p1"]
YAML
as bob up "$TMP/bob-port.yaml" >"$TMP/up-bob-port.log" 2>&1 || fail "bob up port: $(cat "$TMP/up-bob-port.log")"
port_reach() { as bob exec port r1 -- ping -c 1 -W 1 10.101.0.1; }
wait_for 20 port_reach || fail "bob's r1 cannot reach rs:eth9 through alice/p1"
as bob community ls | has -E "^alice/p1 +alice/backbone +rs:eth9 .*bob/port r1:eth1" ||
  fail "community ls for p1: $(as bob community ls)"
expect_refused "bob-port.yaml:6: link r1:eth1<->community:alice/p1: community endpoint alice/p1 is the interface rs:eth9 of alice/backbone, which takes one attachment at a time; lab bob/port has it" \
  as carol up "$TMP/bob-port.yaml"
ls /run/netns | has "carol+port" && fail "a refused interface attach left namespaces"

# ---- Alice leaves: Bob and Carol stay up, DEGRADED naming the attachment -----
as alice down backbone >"$TMP/down-alice.log" 2>&1 || fail "alice down: $(cat "$TMP/down-alice.log")"
ls /run/netns | has "alice+backbone" && fail "alice's namespaces left: $(ls /run/netns | grep alice)"
as bob status edge >"$TMP/bob-degraded.txt" || true
grep -q "^State:  DEGRADED$" "$TMP/bob-degraded.txt" || fail "bob's lab after alice down: $(cat "$TMP/bob-degraded.txt")"
grep -q "r1:eth1<->community:alice/ix1" "$TMP/bob-degraded.txt" ||
  fail "DEGRADED does not name the attachment: $(cat "$TMP/bob-degraded.txt")
alice down: $(cat "$TMP/down-alice.log")
controller: $(grep -h community /run/emu/"$ID"/logs/* | tail -20)"
as bob exec edge r1 -- true || fail "bob's lab does not run while alice is away"
# Conditions of an attachment that is down: kept for its return.
as bob link set edge r1:eth1 --rate 40mbit >"$TMP/set.txt" 2>&1 || fail "link set while detached: $(cat "$TMP/set.txt")"
grep -q "r1:eth1<->community:alice/ix1 .*40Mbit" "$TMP/set.txt" || fail "link set while detached printed: $(cat "$TMP/set.txt")"
as bob community ls | has "alice/ix1" && fail "community ls lists a removed export: $(as bob community ls)"

# ---- Alice comes back: attachments return by themselves ---------------------
as alice up "$TMP/backbone.yaml" >"$TMP/up-alice2.log" 2>&1 || fail "alice up again: $(cat "$TMP/up-alice2.log")"
wait_for 60 reach bob 10.100.0.12 || fail "bob does not reach carol after alice's return: $(as bob status edge)"
reach carol 10.100.0.11 >/dev/null || fail "carol does not reach bob after alice's return"
wait_for 30 port_reach || fail "bob's port lab not re-attached to alice/p1 after alice's return"
as bob down port >/dev/null || fail "bob down port"
# The attachment came back with the conditions `link set` gave it, and the
# ordinary link kept its own; `emuctl apply` of Bob's file brings both back
# to the file's.
rate_on eth1 40Mbit || fail "r1:eth1 re-attached without its link-set rate: $(tc_of eth1)"
rate_on eth2 20Mbit || fail "r1:eth2 lost its link-set rate: $(tc_of eth2)"
as bob apply "$TMP/bob.yaml" >"$TMP/apply-bob.txt" 2>&1 || fail "bob apply: $(cat "$TMP/apply-bob.txt")"
rate_on eth1 100Mbit && rate_on eth2 50Mbit || fail "apply did not bring r1 back to the file: $(tc_of eth1; tc_of eth2)"
reach bob 10.100.0.12 >/dev/null || fail "bob lost carol after apply"
as bob status edge | has "^State:  RUNNING$" || fail "bob's lab after alice's return: $(as bob status edge)"

# ---- Unexporting an interface export whose interface has addresses ---------
# The bridge and its link go; rs:eth9, a link's end no more, goes with its
# address; exported again, it comes back with it.
rs_eth9() { ip -n "emu.$ID-h1.alice+backbone.rs" -o addr show dev eth9 2>/dev/null; }
grep -q "10.101.0.1/30" <<<"$(rs_eth9)" || fail "rs:eth9 has not its address: $(rs_eth9)"
as alice community unexport backbone p1 >"$TMP/unexport.txt" 2>&1 || fail "unexport p1: $(cat "$TMP/unexport.txt")"
as alice status backbone | has "^State:  RUNNING$" || fail "alice's lab after unexport p1: $(as alice status backbone)"
[[ -z $(rs_eth9) ]] || fail "rs:eth9 left after unexport: $(rs_eth9)"
ls /run/netns | has "alice+backbone.e-" && fail "the export's bridge left: $(ls /run/netns | grep alice)"
as alice community export backbone rs:eth9 --name p1 --to bob >"$TMP/export-p1.txt" 2>&1 || fail "export p1 again: $(cat "$TMP/export-p1.txt")"
grep -q "10.101.0.1/30" <<<"$(rs_eth9)" || fail "rs:eth9 not back with its address: $(rs_eth9)"
reach bob 10.100.0.1 >/dev/null || fail "bob lost alice's rs in the unexport"

# ---- Carol leaves: the switch loses just her port ---------------------------
as carol down edge >/dev/null || fail "carol down"
[[ $(ports_of_sw1 | wc -l) == 2 ]] || fail "sw1 ports after carol left: $(ports_of_sw1 | tr '\n' ' ')"
reach bob 10.100.0.1 >/dev/null || fail "bob lost alice's rs when carol left"
as alice status backbone | has "^State:  RUNNING$" || fail "alice's lab after carol left: $(as alice status backbone)"

as bob down edge >/dev/null || fail "bob down"
[[ $(ports_of_sw1 | wc -l) == 1 ]] || fail "sw1 ports after bob left: $(ports_of_sw1 | tr '\n' ' ')"
as alice down backbone >/dev/null
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo "community_test: all checks passed"
