#!/usr/bin/env bash
# `emuctl linktest` (issue 10): examples/netem.yaml on a host without
# sch_netem (the userspace engine serves its links); linktest measures each
# link from inside its nodes and its verdict is ok; a deliberately wrong
# expectation (--expect delay=30ms against 20 ms) shows off and exits 1;
# --json is what scripts read; one host, so each direction's delay is
# measured one way (an asymmetric change is seen per direction). Needs
# root; touches only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test t

"$EMUCTL" local start --name "$ID" --subnet 198.18.212.0/24 >"$TMP/start.log" 2>&1 ||
  fail "local start: $(cat "$TMP/start.log")"
"$EMUCTL" up "$RUNFILES/examples/netem.yaml" >"$TMP/up.log" 2>&1 ||
  fail "up examples/netem.yaml: $(cat "$TMP/up.log")"

# Every figure is judged; on a host whose load average exceeds its cores
# the scheduling noise (jitter p99) and CPU-bound rates (100 Mbit/s through
# the engine) are the host's, not the link's: there those two are printed
# and the others required (the environment imposes them; they are not
# asserted). The same holds for a link whose engine reports frames it sent
# 10 ms or more late while pinged (host_stalled: the host, e.g. its
# hypervisor, stopped the engine; a CI run once saw such a stall make
# jitter p99 30.6 ms). Otherwise the whole verdict must be ok.
rc=0
"$EMUCTL" linktest netem --json >"$TMP/all.json" 2>"$TMP/all.err" || rc=$?
"$EMUCTL" linktest netem --no-rate >"$TMP/all.txt" 2>&1 || true
cat "$TMP/all.txt"
load=$(cut -d' ' -f1 /proc/loadavg)
busy=$(awk -v l="$load" -v c="$(nproc)" 'BEGIN { print (l > c) ? 1 : 0 }')
/usr/bin/python3 - "$TMP/all.json" "$busy" "$rc" <<'PY' || fail "linktest netem: $(cat "$TMP/all.json" "$TMP/all.err")"
import json, sys
j = json.load(open(sys.argv[1]))
busy = sys.argv[2] == "1"
rc = int(sys.argv[3])
assert [l["link"] for l in j["links"]] == ["a:eth1<->b:eth1", "c:eth1<->d:eth1"], j
for l in j["links"]:
    assert "error" not in l, l
    names = [c["name"] for c in l["checks"]]
    assert "rate a-to-b" in names and "rate b-to-a" in names, names
    # One host, one clock: each direction's one-way delay is measured.
    assert l["delay"] == "one-way", l.get("delay_note", l)
    assert "delay a-to-b" in names and "delay b-to-a" in names, names
    print("%s one-way a-to-b %.2f ms, b-to-a %.2f ms" % (
        l["link"], l["measured"]["delay_a_to_b_ms"], l["measured"]["delay_b_to_a_ms"]))
    # The engine sends both directions here, so it counts its late frames.
    assert l["late"]["a_to_b"]["known"] and l["late"]["b_to_a"]["known"], l["late"]
    if l["host_stalled"]:
        print("%s: the host stalled the engine while pinged: %s" % (l["link"], l["late"]))
    excused = busy or l["host_stalled"]
    for c in l["checks"]:
        print("%s %-12s expected %8.2f measured %8.2f +- %6.2f %s %s" % (
            l["link"], c["name"], c["expected"], c["measured"], c["tolerance"],
            c["unit"], "ok" if c["ok"] else "OFF"))
        noise = c["name"] == "jitter p99" or (
            c["name"].startswith("rate") and c["expected"] > 60)
        assert c["ok"] or (excused and noise), c
stalled = any(l["host_stalled"] for l in j["links"])
if not busy and not stalled:
    assert j["verdict"] == "ok" and rc == 0, (j["verdict"], rc)
print("verdict", j["verdict"], "(host busy: load above cores)" if busy else "",
      "(host stalled)" if stalled else "")
PY

# A stall of the host is seen as such: the test stops the agent it started
# (its userspace engine) for 60 ms while linktest pings a<->b. The frames
# the engine held then leave late; linktest counts them and says the host,
# not the link, is why its figures moved. The same for an experiment run
# (the controller reads the lab's counters at its start and end): its
# result warns of the stalled link.
agent_pid=$(sed -n 's/^started agent .* (pid \([0-9]*\)).*/\1/p' "$TMP/start.log")
[[ -n $agent_pid ]] || fail "no agent pid in: $(cat "$TMP/start.log")"
# stall_agent_during PATTERN: once a process whose command line has
# PATTERN runs, stop the agent for 60 ms.
stall_agent_during() {
  wait_for 20 pgrep -f "$1" || fail "no process matching '$1' started"
  sleep 0.5
  kill -STOP "$agent_pid"
  sleep 0.06
  kill -CONT "$agent_pid"
}
"$EMUCTL" linktest netem "a:eth1" --no-rate --count 317 >"$TMP/stall.txt" 2>&1 &
lt_pid=$!
stall_agent_during "ping -n -i 0.010000 -c 317 "
wait "$lt_pid" || true
cat "$TMP/stall.txt"
grep -q "late: .* sent 1 ms or more late (.* 10 ms or more) while pinged" "$TMP/stall.txt" ||
  fail "the stall's late frames were not reported: $(cat "$TMP/stall.txt")"
if grep -q "verdict: off" "$TMP/stall.txt"; then
  grep -q "verdict: off (the host stalled the sender while pinged" "$TMP/stall.txt" ||
    fail "an off verdict does not name the late frames: $(cat "$TMP/stall.txt")"
fi

cat >"$TMP/late.yaml" <<'EOF'
experiment: late
tasks:
  - name: ping
    commands:
      - {node: a, cmd: "ping -q -c 319 -i 0.01 10.0.0.2"}
EOF
(cd "$TMP" && "$EMUCTL" run netem late.yaml >"$TMP/run.txt" 2>&1) &
run_pid=$!
stall_agent_during "ping -q -c 319 -i 0.01 "
wait "$run_pid" || fail "experiment run: $(cat "$TMP/run.txt")"
cat "$TMP/run.txt"
grep -q "^warning: link a:eth1<->b:eth1 .* sent 10 ms or more late during the run" "$TMP/run.txt" ||
  fail "the run does not warn of the stall: $(cat "$TMP/run.txt")"

# A wrong expectation is seen: a<->b has 20 ms each way, not 30.
if "$EMUCTL" linktest netem "a:eth1" --no-rate --expect delay=30ms >"$TMP/off.txt" 2>&1; then
  fail "linktest against delay=30ms passed: $(cat "$TMP/off.txt")"
fi
cat "$TMP/off.txt"
grep -q "delay a-to-b (one-way).*OFF" "$TMP/off.txt" || fail "no OFF delay: $(cat "$TMP/off.txt")"
grep -q "delay b-to-a (one-way).*OFF" "$TMP/off.txt" || fail "no OFF delay: $(cat "$TMP/off.txt")"
grep -q "verdict: off" "$TMP/off.txt" || fail "no off verdict: $(cat "$TMP/off.txt")"

# --json for scripts; a changed link is measured as changed, each
# direction on its own (one host: one-way delays): a-to-b 12 ms, b-to-a
# still 5 ms.
"$EMUCTL" link set netem "c:eth1<->d:eth1" --dir a-to-b --delay 12ms >/dev/null
"$EMUCTL" linktest netem "c:eth1<->d:eth1" --no-rate --json >"$TMP/cd.json" 2>&1 || true
/usr/bin/python3 - "$TMP/cd.json" "$busy" <<'PY' || fail "json: $(cat "$TMP/cd.json")"
import json, sys
j = json.load(open(sys.argv[1]))
[l] = j["links"]
for c in l["checks"]:
    excused = sys.argv[2] == "1" or l["host_stalled"]
    assert c["ok"] or (excused and c["name"] == "jitter p99"), c
assert l["link"] == "c:eth1<->d:eth1", l
m = l["measured"]
assert 16 <= m["rtt_p50_ms"] <= 20, m
assert l["delay"] == "one-way", l
assert 11.5 <= m["delay_a_to_b_ms"] <= 14, m
assert 4.5 <= m["delay_b_to_a_ms"] <= 7, m
assert l["engine"]["a_to_b"] == "userspace", l["engine"]
print("c<->d after link set --dir a-to-b --delay 12ms: RTT p50", m["rtt_p50_ms"],
      "ms, one-way a-to-b", m["delay_a_to_b_ms"], "ms, b-to-a", m["delay_b_to_a_ms"], "ms")
PY
# Unknown link and bad flags: clear errors.
if "$EMUCTL" linktest netem "x:eth9" >"$TMP/bad.txt" 2>&1; then fail "unknown link accepted"; fi
grep -q "has no link x:eth9" "$TMP/bad.txt" || fail "unknown link: $(cat "$TMP/bad.txt")"

"$EMUCTL" down netem >/dev/null
wait_for 30 "$EMUCTL" local stop --name "$ID" ||
  fail "local stop: $("$EMUCTL" local stop --name "$ID" 2>&1)"
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
