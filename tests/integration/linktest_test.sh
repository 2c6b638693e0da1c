#!/usr/bin/env bash
# `emuctl linktest` (issue 10): examples/netem.yaml on a host without
# sch_netem (the userspace engine serves its links); linktest measures each
# link from inside its nodes and its verdict is ok; a deliberately wrong
# expectation (--expect delay=30ms against 20 ms) shows off and exits 1;
# --json is what scripts read. Needs root; touches only names with its own
# cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test t

"$EMUCTL" local start --name "$ID" --subnet 198.18.212.0/24 >"$TMP/start.log" 2>&1 ||
  fail "local start: $(cat "$TMP/start.log")"
"$EMUCTL" up "$RUNFILES/examples/netem.yaml" >"$TMP/up.log" 2>&1 ||
  fail "up examples/netem.yaml: $(cat "$TMP/up.log")"

"$EMUCTL" linktest netem >"$TMP/all.txt" 2>&1 || fail "linktest netem is off: $(cat "$TMP/all.txt")"
cat "$TMP/all.txt"
grep -q "linktest: 2 of 2 links ok" "$TMP/all.txt" || fail "summary: $(cat "$TMP/all.txt")"
grep -q "rate a-to-b" "$TMP/all.txt" || fail "no rate run: $(cat "$TMP/all.txt")"

# A wrong expectation is seen: a<->b has 20 ms each way, not 30.
if "$EMUCTL" linktest netem "a:eth1" --no-rate --expect delay=30ms >"$TMP/off.txt" 2>&1; then
  fail "linktest against delay=30ms passed: $(cat "$TMP/off.txt")"
fi
cat "$TMP/off.txt"
grep -q "delay (RTT/2).*OFF" "$TMP/off.txt" || fail "no OFF delay: $(cat "$TMP/off.txt")"
grep -q "verdict: off" "$TMP/off.txt" || fail "no off verdict: $(cat "$TMP/off.txt")"

# --json for scripts; a changed link is measured as changed.
"$EMUCTL" link set netem "c:eth1<->d:eth1" --delay 12ms >/dev/null
"$EMUCTL" linktest netem "c:eth1<->d:eth1" --no-rate --json >"$TMP/cd.json" 2>&1 ||
  fail "linktest c<->d after link set: $(cat "$TMP/cd.json")"
/usr/bin/python3 - "$TMP/cd.json" <<'PY' || fail "json: $(cat "$TMP/cd.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["verdict"] == "ok", j
[l] = j["links"]
assert l["link"] == "c:eth1<->d:eth1", l
assert 23 <= l["measured"]["rtt_p50_ms"] <= 27, l["measured"]
assert l["engine"]["a_to_b"] == "userspace", l["engine"]
print("c<->d after link set --delay 12ms: RTT p50", l["measured"]["rtt_p50_ms"], "ms")
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
