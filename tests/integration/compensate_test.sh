#!/usr/bin/env bash
# compensate: true (issue 10): the engine path's base latency is measured
# by the agent and subtracted from a compensated link's delay, so its RTT
# is closer to the configured one than an identical uncompensated link's.
# Two links of one lab, 2 ms each way through the userspace engine: a<->b
# compensated (the lab's compensate: true), c<->d not (compensate: false on
# the link). linktest shows configured, base and applied delay; both links
# are pinged at the same time (two linktest runs side by side, so a busy
# host's load falls on both alike), three rounds, and the medians of their
# RTT p50s are compared. A third link, e<->f, crosses from host h1 to h2
# (the tunnels' egress pipelines apply it): its base is half the minimum
# of the tunnel's echo round trips through both pumps plus the sending
# host's engine path figure (the TAPs and stacks at both ends, which the
# echo does not cross), and linktest shows
# configured, base (and its source) and applied delay for it too. Needs
# root; touches only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test k

cat >"$TMP/comp.yaml" <<YAML
name: comp
engine: userspace
compensate: true
topology:
  nodes:
    a: {host: $ID-h1, interfaces: {eth1: {addresses: [10.0.0.1/24]}}}
    b: {host: $ID-h1, interfaces: {eth1: {addresses: [10.0.0.2/24]}}}
    c: {host: $ID-h1, interfaces: {eth1: {addresses: [10.0.1.1/24]}}}
    d: {host: $ID-h1, interfaces: {eth1: {addresses: [10.0.1.2/24]}}}
    e: {host: $ID-h1, interfaces: {eth1: {addresses: [10.0.2.1/24]}}}
    f: {host: $ID-h2, interfaces: {eth1: {addresses: [10.0.2.2/24]}}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      delay: 2ms
    - endpoints: ["c:eth1", "d:eth1"]
      delay: 2ms
      compensate: false
    - endpoints: ["e:eth1", "f:eth1"]
      delay: 2ms
YAML

"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.227.0/24 >"$TMP/start.log" 2>&1 ||
  fail "local start: $(cat "$TMP/start.log")"
"$EMUCTL" up "$TMP/comp.yaml" >"$TMP/up.log" 2>&1 ||
  fail "up: $(cat "$TMP/up.log")"

# The text output shows the three figures for the compensated link only.
"$EMUCTL" linktest comp --no-rate --count 20 >"$TMP/text.txt" 2>&1 || true
cat "$TMP/text.txt"
grep -q "a-to-b compensated: configured 2.000 ms - base measured 0\.[0-9]* ms = engine delay 1\.[0-9]* ms" "$TMP/text.txt" ||
  fail "no compensation line for a<->b: $(cat "$TMP/text.txt")"
if grep -q "b-to-a compensated" <(sed -n '/^c:eth1/,/^e:eth1/p' "$TMP/text.txt"); then
  fail "c<->d (compensate: false) was compensated: $(cat "$TMP/text.txt")"
fi
# Cross-host: the base is the tunnel's echo and the TAPs' path, both
# directions (each on its sender's host).
n=$(grep -c "compensated: configured 2.000 ms - base measured 0\.[0-9]* ms (tunnel echo min RTT/2 + engine path probe) = engine delay 1\.[0-9]* ms" "$TMP/text.txt" || true)
[[ $n -eq 2 ]] || fail "e<->f: $n tunnel compensation lines, want 2: $(cat "$TMP/text.txt")"

# The cross-host link's figures and its RTT: never early by more than the
# base it subtracted (plus ping's resolution). The base is a minimum of
# round trips through the same pumps the pings take, so the RTT is not
# asserted closer to 4 ms than that: how close it comes depends on the
# host's load (docs/linkemu.md has the figures).
"$EMUCTL" linktest comp "e:eth1" --no-rate --count 100 --interval 5ms --json \
  >"$TMP/cross.json" 2>"$TMP/cross.err" || true
/usr/bin/python3 - "$TMP/cross.json" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY' || fail "cross-host compensation: $(cat "$TMP/cross.json" "$TMP/cross.err")"
import json, sys
[e] = json.load(open(sys.argv[1]))["links"]
assert "error" not in e, e
assert e["hosts"][0] != e["hosts"][1], e["hosts"]
bases = []
for d in ("a_to_b", "b_to_a"):
    comp = e["compensation"][d]
    assert comp["asked"] and comp["applied"], comp
    assert comp["base_source"] == "tunnel echo min RTT/2 + engine path probe", comp
    assert 0 < comp["base_ms"] < 5, comp
    assert abs(comp["applied_delay_ms"] - (2 - comp["base_ms"])) < 0.0015, comp
    bases.append(comp["base_ms"])
rtt = e["measured"]["rtt_p50_ms"]
print(f"cross-host (load {sys.argv[2]}): base {bases} ms one way; "
      f"RTT p50 {rtt:.3f} ms for 4.000 configured")
assert rtt >= 4 - sum(bases) - 0.02, (rtt, bases)
PY

for round in 1 2 3; do
  "$EMUCTL" linktest comp "a:eth1" --no-rate --count 300 --interval 5ms --json \
    >"$TMP/on$round.json" 2>"$TMP/on$round.err" &
  on=$!
  BG_PIDS+=("$on")
  "$EMUCTL" linktest comp "c:eth1" --no-rate --count 300 --interval 5ms --json \
    >"$TMP/off$round.json" 2>"$TMP/off$round.err" &
  off=$!
  BG_PIDS+=("$off")
  wait "$on" || true
  wait "$off" || true
done
load=$(cut -d' ' -f1 /proc/loadavg)
/usr/bin/python3 - "$TMP" "$load" <<'PY' || fail "compensation: $(cat "$TMP"/on*.json "$TMP"/off*.json)"
import json, statistics, sys
tmp, load = sys.argv[1], sys.argv[2]
on, off = [], []
for r in (1, 2, 3):
    [a] = json.load(open(f"{tmp}/on{r}.json"))["links"]
    [c] = json.load(open(f"{tmp}/off{r}.json"))["links"]
    assert "error" not in a and "error" not in c, (a, c)
    for d in ("a_to_b", "b_to_a"):
        comp = a["compensation"][d]
        assert comp["asked"] and comp["applied"], comp
        assert 0 < comp["base_ms"] < 10, comp
        assert comp["base_source"] == "engine path probe", comp
        assert abs(comp["applied_delay_ms"] - (2 - comp["base_ms"])) < 0.0015, comp
        assert c["compensation"][d]["asked"] is False, c["compensation"]
        assert c["compensation"][d]["applied"] is False, c["compensation"]
    on.append(a["measured"]["rtt_p50_ms"])
    off.append(c["measured"]["rtt_p50_ms"])
base = a["compensation"]["a_to_b"]["base_ms"]
m_on, m_off = statistics.median(on), statistics.median(off)
print(f"load {load}; base {base:.3f} ms per direction; configured RTT 4.000 ms")
print(f"RTT p50 compensated {on} -> median {m_on:.3f} ms (error {m_on - 4:+.3f})")
print(f"RTT p50 not         {off} -> median {m_off:.3f} ms (error {m_off - 4:+.3f})")
# The base here (5-25 us) is about ping's resolution (10 us), so "closer
# to 4 ms with compensation than without" is noise from run to run (it
# failed once: 3.96 vs 3.99 ms, when the engine's own lateness correction
# already had both at or below 4): not asserted. What is: compensation
# never takes more than the path costs (not early beyond ping's
# resolution and the base subtracted), and neither run is far off.
assert m_on >= 4 - 2 * base - 0.05, (m_on, base)
assert abs(m_on - 4) < 0.5 and abs(m_off - 4) < 0.5, (m_on, m_off)
PY

"$EMUCTL" down comp >/dev/null
wait_for 30 "$EMUCTL" local stop --name "$ID" ||
  fail "local stop: $("$EMUCTL" local stop --name "$ID" 2>&1)"
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
