#!/usr/bin/env bash
# emuctl stats (issue 12) against known traffic: ping counts through a
# TBF-shaped veth link, a userspace-engine link and a cross-host tunnel
# appear in the link directions' counters (packets exact up to a few frames
# of neighbour discovery, bytes within 10 %); a UDP blast above the shaped
# rate shows drops and the current rate near the configured 10 Mbit/s; a
# node's processes show CPU and memory. Needs root; touches only names with
# its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test st
ns() { echo "emu.$ID-$1.st.$2"; }
PY=/usr/bin/python3

cat >"$TMP/st.yaml" <<YAML
name: st
topology:
  nodes:
    a:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.78.0.1/24]}
        eth2: {addresses: [10.78.1.1/24]}
        eth3: {addresses: [10.78.2.1/24]}
    b:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.78.0.2/24]}
    e:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.78.1.2/24]}
    x:
      host: $ID-h2
      interfaces:
        eth1: {addresses: [10.78.2.2/24]}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      rate: 10mbit
    - endpoints: ["a:eth2", "e:eth1"]
      delay: 1ms
      engine: userspace
    - endpoints: ["a:eth3", "x:eth1"]
YAML

"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.222.0/24 >"$TMP/start.log"
"$EMUCTL" up "$TMP/st.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
wait_for 10 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.78.0.2 || fail "a cannot reach b"
wait_for 10 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.78.1.2 || fail "a cannot reach e"
wait_for 20 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.78.2.2 || fail "a cannot reach x"

# field JSON LINK DIR FIELD: one counter of a sample (uint64 is a string in
# the JSON mapping; absent is 0).
field() {
  "$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
for l in c.get("links", []):
    if l["link"] == sys.argv[2]:
        print(int(float(l.get(sys.argv[3], {}).get(sys.argv[4], 0))))
        break
else:
    sys.exit("no link " + sys.argv[2])' "$@"
}
sample() { "$EMUCTL" stats st --json --interval "${2:-0.2s}" >"$1" || fail "stats: $(cat "$1")"; }
# check_delta NAME LINK DIR BEFORE AFTER PACKETS BYTES: delivered packets
# grew by PACKETS (up to 6 more: neighbour discovery, ARP), bytes by BYTES
# +-10 % (plus those few frames), and sent by the same.
check_delta() {
  local name=$1 link=$2 dir=$3 before=$4 after=$5 packets=$6 bytes=$7 kind
  for kind in delivered sent; do
    local dp db
    dp=$(( $(field "$after" "$link" "$dir" ${kind}_packets) - $(field "$before" "$link" "$dir" ${kind}_packets) ))
    db=$(( $(field "$after" "$link" "$dir" ${kind}_bytes) - $(field "$before" "$link" "$dir" ${kind}_bytes) ))
    (( dp >= packets && dp <= packets + 6 )) ||
      fail "$name $dir $kind: $dp packets, want $packets (+6)"
    (( db >= bytes * 9 / 10 && db <= bytes * 11 / 10 + 6 * 100 )) ||
      fail "$name $dir $kind: $db bytes, want $bytes +-10%"
    echo "$name $dir $kind: $dp packets, $db bytes (ping sent $packets, $bytes)"
  done
}

# 40 pings of 1000 bytes: each frame 1000 + 8 (ICMP) + 20 (IP) + 14 = 1042.
ping_known() {
  ip netns exec "$(ns h1 a)" ping -q -c 40 -i 0.01 -s 1000 -W 2 "$1" >"$TMP/ping.log" ||
    fail "ping $1: $(cat "$TMP/ping.log")"
}
for case in "veth a:eth1<->b:eth1 10.78.0.2" "engine a:eth2<->e:eth1 10.78.1.2" \
            "tunnel a:eth3<->x:eth1 10.78.2.2"; do
  read -r name link addr <<<"$case"
  sample "$TMP/$name-before.json"
  ping_known "$addr"
  sample "$TMP/$name-after.json"
  check_delta "$name" "$link" a_to_b "$TMP/$name-before.json" "$TMP/$name-after.json" 40 $((40 * 1042))
  check_delta "$name" "$link" b_to_a "$TMP/$name-before.json" "$TMP/$name-after.json" 40 $((40 * 1042))
done
grep -q '"carrier": "engine"' "$TMP/engine-after.json" || fail "engine link not marked: $(cat "$TMP/engine-after.json")"
grep -q '"cross_host": true' "$TMP/tunnel-after.json" || fail "tunnel link not marked cross_host"

# A UDP blast at 40 Mbit/s into the 10 Mbit/s TBF: drops counted, and the
# delivered rate over a 2 s sample is the configured rate (TBF counts the
# frames the veth delivers: 10 Mbit/s +-10 %).
"$EMUCTL" exec st b -- iperf3 -s -1 -D >/dev/null
ip netns exec "$(ns h1 a)" bash -c 'for i in $(seq 40); do iperf3 -c 10.78.0.2 -u -b 40M -t 5 -l 1400 >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1' &
BG_PIDS+=($!)
sleep_until_sending() { [[ $(field <("$EMUCTL" stats st --json --interval 0.1s) "a:eth1<->b:eth1" a_to_b dropped_packets) -gt 0 ]]; }
wait_for 15 sleep_until_sending || fail "no drops on the shaped link under a 40 Mbit/s blast"
sample "$TMP/rate.json" 2s
rate=$("$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))
l = [l for l in c["links"] if l["link"] == "a:eth1<->b:eth1"][0]
print(l["a_to_b"].get("rate_bits_per_second", 0))' "$TMP/rate.json")
"$PY" -c "import sys; sys.exit(0 if 9e6 <= $rate <= 11e6 else 1)" ||
  fail "rate a->b $rate bit/s under a blast into 10 Mbit/s"
backlog=$(field "$TMP/rate.json" "a:eth1<->b:eth1" a_to_b backlog_bytes)
echo "blast: rate $rate bit/s (configured 10 Mbit/s), backlog $backlog bytes, drops $(field "$TMP/rate.json" "a:eth1<->b:eth1" a_to_b dropped_packets)"

# Node usage: b runs the iperf3 server (or ran it); every node is listed
# with its host; a's processes are counted.
"$PY" - "$TMP/rate.json" "$ID" <<'PY' || fail "node usage: $(cat "$TMP/rate.json")"
import json, sys
c = json.load(open(sys.argv[1]))
nodes = {n["node"]: n for n in c["nodes"]}
assert set(nodes) == {"a", "b", "e", "x"}, nodes
assert nodes["x"]["host"] == sys.argv[2] + "-h2", nodes["x"]
assert int(nodes["a"].get("processes", 0)) >= 1, nodes["a"]
assert int(nodes["a"].get("memory_bytes", 0)) > 0, nodes["a"]
assert float(nodes["a"].get("cpu_seconds", 0)) > 0, nodes["a"]
assert not c.get("problems"), c["problems"]
PY

# The table form, and --watch --count.
"$EMUCTL" stats st >"$TMP/table.txt" || fail "stats: $(cat "$TMP/table.txt")"
grep -q "a:eth1 *b:eth1" "$TMP/table.txt" || fail "table: $(cat "$TMP/table.txt")"
"$EMUCTL" stats st --watch --count 2 --interval 0.2s --json >"$TMP/watch.jsonl"
[[ $(wc -l <"$TMP/watch.jsonl") -eq 2 ]] || fail "--watch --count 2: $(cat "$TMP/watch.jsonl")"
if "$EMUCTL" stats nosuchlab >"$TMP/bad.txt" 2>&1; then fail "stats of an unknown lab succeeded"; fi
grep -q "nosuchlab" "$TMP/bad.txt" || fail "unknown lab: $(cat "$TMP/bad.txt")"

"$EMUCTL" down st >/dev/null
wait_for 30 "$EMUCTL" local stop --name "$ID" ||
  fail "local stop: $("$EMUCTL" local stop --name "$ID" 2>&1)"
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
