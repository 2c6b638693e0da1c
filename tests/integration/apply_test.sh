#!/usr/bin/env bash
# `emuctl apply` on a running lab over two emulated hosts, as a user runs it
# (issue 8, "Changing a running lab"): while pings cross two untouched links
# (a veth on h1, a TCP tunnel h1-h2), one apply adds a node with a link on
# h2, changes one link's rate and removes another link. The pings lose
# nothing, the new node answers, the removed link is gone, tc shows the new
# rate; `--dry-run` changes nothing. Needs root; touches only names with its
# own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test p
LAB=apply$ID
ns() { echo "emu.$ID-$1.$LAB.$2"; }  # ns HOST NODE

# a, b on h1; c on h2.
#   a:eth1 -- b:eth1   veth, 100mbit   untouched (ping a -> b)
#   a:eth3 -- c:eth3   tunnel          untouched (ping a -> c)
#   b:eth2 -- c:eth1   tunnel, 10mbit  -> 20mbit
#   a:eth2 -- b:eth3   veth            removed
# Added: d on h2, c:eth2 -- d:eth1.
write_lab() {  # write_lab FILE EDITED(0|1)
  local rate=10mbit
  [[ $2 == 1 ]] && rate=20mbit
  {
    cat <<YAML
name: $LAB
topology:
  nodes:
    a:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.78.1.1/24]}
        eth3: {addresses: [10.78.4.1/24]}
    b:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.78.1.2/24]}
        eth2: {addresses: [10.78.2.1/24]}
    c:
      host: $ID-h2
      interfaces:
        eth1: {addresses: [10.78.2.2/24]}
        eth3: {addresses: [10.78.4.2/24]}
YAML
    [[ $2 == 1 ]] && echo '        eth2: {addresses: [10.78.3.1/24]}'
    [[ $2 == 1 ]] && cat <<YAML
    d:
      host: $ID-h2
      interfaces:
        eth1: {addresses: [10.78.3.2/24]}
YAML
    cat <<YAML
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      rate: 100mbit
    - endpoints: ["a:eth3", "c:eth3"]
    - endpoints: ["b:eth2", "c:eth1"]
      rate: $rate
YAML
    if [[ $2 == 1 ]]; then
      echo '    - endpoints: ["c:eth2", "d:eth1"]'
    else
      echo '    - endpoints: ["a:eth2", "b:eth3"]'
    fi
  } >"$1"
}
write_lab "$TMP/lab.yaml" 0
write_lab "$TMP/edited.yaml" 1

"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.237.0/24 >"$TMP/start.log"
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
wait_for 10 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.78.4.2 ||
  fail "a cannot reach c across the tunnel"
tc_rate() { ip netns exec "$(ns h1 b)" tc qdisc show dev eth2; }
tc_rate | has "rate 10Mbit" || fail "b:eth2 not at 10Mbit: $(tc_rate)"

# --dry-run prints the difference and changes nothing.
"$EMUCTL" apply --dry-run "$TMP/edited.yaml" >"$TMP/dry.log" 2>&1 ||
  fail "apply --dry-run: $(cat "$TMP/dry.log")"
for want in "+ node d (host $ID-h2)" "- link a:eth2<->b:eth3" \
  "~ node c: eth2 addresses none -> 10.78.3.1/24" \
  "+ link c:eth2<->d:eth1" "~ link b:eth2<->c:eth1 rate 10Mbit/s -> 20Mbit/s"; do
  grep -qxF -- "$want" "$TMP/dry.log" || fail "dry run lacks '$want': $(cat "$TMP/dry.log")"
done
[[ ! -e /run/netns/$(ns h2 d) ]] || fail "dry run created d"
ip netns exec "$(ns h1 a)" ip link show eth2 >/dev/null 2>&1 || fail "dry run removed a:eth2"
tc_rate | has "rate 10Mbit" || fail "dry run changed the rate: $(tc_rate)"

# Pings across the two untouched links, 30 s at 20 per second: the apply
# happens while they run (checked below).
start_ping() {  # start_ping NODE TARGET LOG
  # (line-buffered: the replies are counted while it runs)
  ip netns exec "$(ns h1 "$1")" stdbuf -oL ping -n -i 0.05 -c 600 "$2" >"$3" 2>&1 &
  BG_PIDS+=($!)
}
start_ping a 10.78.1.2 "$TMP/ping-veth.log"
start_ping a 10.78.4.2 "$TMP/ping-tunnel.log"
replies() { grep -c "bytes from" "$1" 2>/dev/null || true; }
answered() { [[ $(replies "$TMP/ping-veth.log") -ge 20 && $(replies "$TMP/ping-tunnel.log") -ge 20 ]]; }
wait_for 10 answered || fail "pings not answered: $(cat "$TMP"/ping-*.log)"
# A command running in an untouched node keeps running.
ip netns exec "$(ns h1 b)" sleep 300 &
SLEEPER=$!
BG_PIDS+=($SLEEPER)

"$EMUCTL" apply "$TMP/edited.yaml" >"$TMP/apply.log" 2>&1 ||
  fail "apply: $(cat "$TMP/apply.log")"
for p in "${BG_PIDS[@]}"; do
  kill -0 "$p" 2>/dev/null || fail "pid $p (a ping or b's sleep) ended before the apply did: $(cat "$TMP"/ping-*.log)"
done
grep -qxF "+ node d (host $ID-h2)" "$TMP/apply.log" || fail "apply output: $(cat "$TMP/apply.log")"

# The new node answers; the removed link is gone; the rate changed.
wait_for 10 ip netns exec "$(ns h2 c)" ping -c 1 -W 1 10.78.3.2 ||
  fail "new node d does not answer: $(cat "$TMP/apply.log")"
"$EMUCTL" exec "$LAB" d -- ping -c 1 -W 2 10.78.3.1 >/dev/null || fail "exec in d"
if ip netns exec "$(ns h1 a)" ip link show eth2 >/dev/null 2>&1; then fail "a:eth2 still there"; fi
if ip netns exec "$(ns h1 b)" ip link show eth3 >/dev/null 2>&1; then fail "b:eth3 still there"; fi
tc_rate | has "rate 20Mbit" || fail "b:eth2 not at 20Mbit: $(tc_rate)"
ip netns exec "$(ns h2 c)" tc qdisc show dev eth1 | has "rate 20Mbit" ||
  fail "c:eth1 not at 20Mbit: $(ip netns exec "$(ns h2 c)" tc qdisc show dev eth1)"
ip netns exec "$(ns h1 a)" tc qdisc show dev eth1 | has "rate 100Mbit" ||
  fail "untouched a:eth1 lost its rate"
kill -0 "$SLEEPER" || fail "the command running in b was ended by the apply"
"$EMUCTL" status "$LAB" --json >"$TMP/status.json"
grep -q '"state": *"RUNNING"' "$TMP/status.json" || fail "status: $(cat "$TMP/status.json")"
grep -q '"d"' "$TMP/status.json" || fail "d not in status"

# Applying the same file again changes nothing.
"$EMUCTL" apply "$TMP/edited.yaml" >"$TMP/again.log" 2>&1 || fail "apply again: $(cat "$TMP/again.log")"
grep -q "no change" "$TMP/again.log" || fail "second apply: $(cat "$TMP/again.log")"

# The pings end by themselves (600 each): not one lost.
kill "$SLEEPER"
for p in "${BG_PIDS[@]}"; do wait "$p" || true; done
BG_PIDS=()
for log in "$TMP/ping-veth.log" "$TMP/ping-tunnel.log"; do
  grep -q "600 packets transmitted, 600 received" "$log" ||
    fail "$(basename "$log"): $(tail -3 "$log")"
done

# A file of another lab is not applied to this one; a lab not running is
# refused.
sed "s/^name: $LAB/name: other$ID/" "$TMP/edited.yaml" >"$TMP/other.yaml"
if "$EMUCTL" apply "$TMP/other.yaml" >"$TMP/other.log" 2>&1; then fail "applied to a lab that does not exist"; fi
grep -q "lab other$ID not found" "$TMP/other.log" || fail "other lab: $(cat "$TMP/other.log")"

"$EMUCTL" down "$LAB" >/dev/null
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo "apply_test: all checks passed"
