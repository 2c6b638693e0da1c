#!/usr/bin/env bash
# The web view in a real browser (issue 12): a local cluster started with
# --web, a lab and an experiment run, then Debian's headless Chromium
# (web_browser.py, DevTools protocol on a pipe) logs in through the form
# with the cluster token and checks that the lab list shows the lab, that
# the lab's page draws its graph (Graphviz SVG) and lists its nodes and
# links with live counters (a ping's bytes appear without a reload), and
# that the run's page shows its Task timeline, with no error in
# the browser's log (e.g. a Content-Security-Policy refusal). Also checks
# that the view is read-only and that nothing listens for it unless asked.
# Needs root; touches only its own cluster's names.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test w
DIR=/run/emu/$ID

"$EMUCTL" local start --name "$ID" --hosts 2 --web --subnet 198.18.242.0/24 \
  >"$TMP/start.log" 2>&1 || fail "local start: $(cat "$TMP/start.log")"
wait_for 20 test -s "$DIR/controller.web_port" || fail "no controller.web_port"
[ -e "$DIR/controller.metrics_port" ] && fail "metrics served without --metrics"
BASE="http://127.0.0.1:$(cat "$DIR/controller.web_port")"

cat >"$TMP/lab.yaml" <<YAML
name: wlab
topology:
  defaults: {kind: netns}
  nodes:
    r1: {host: $ID-h1, interfaces: {eth1: {addresses: [10.78.0.1/24]}, eth2: {addresses: [10.78.1.1/24]}}}
    r2: {host: $ID-h2, interfaces: {eth1: {addresses: [10.78.0.2/24]}}}
    h1: {host: $ID-h1, interfaces: {eth1: {addresses: [10.78.1.2/24]}}}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      rate: 10mbit
    - endpoints: ["r1:eth2", "h1:eth1"]
YAML
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
cat >"$TMP/exp.yaml" <<'YAML'
experiment: web
tasks:
  - name: first
    commands: [{node: r1, cmd: "true"}, {node: r2, cmd: "true"}]
  - name: second
    commands: [{node: h1, cmd: "sleep 0.2"}]
YAML
"$EMUCTL" run wlab "$TMP/exp.yaml" >"$TMP/run.log" 2>&1 || fail "run: $(cat "$TMP/run.log")"
RUN=$("$EMUCTL" runs 2>/dev/null | awk '$0 ~ /wlab/ { print $1; exit }')
[ -n "$RUN" ] || fail "no run id in: $("$EMUCTL" runs 2>&1)"

# Read-only and token-only, before the browser.
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/labs/wlab")
[ "$code" = 401 ] || fail "lab page without a token: $code, want 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $(cat "$DIR/token")" "$BASE/labs/wlab")
[ "$code" = 405 ] || fail "POST to a page: $code, want 405"

mkdir -p "$TMP/shots"
/usr/bin/python3 "$RUNFILES/tests/integration/web_browser.py" --base "$BASE" \
  --token-file "$DIR/token" --lab wlab --nodes r1,r2,h1 \
  --run "$RUN" --tasks first,second --screenshot "$TMP/shots" \
  --counter-link 'r1:eth2<->h1:eth1' \
  --traffic "ip netns exec emu.$ID-h1.wlab.r1 ping -q -c 20 -i 0.01 -s 1000 -W 2 10.78.1.2" ||
  fail "the browser did not see what it should"
[ -s "$TMP/shots/lab.png" ] || fail "no screenshot"
if [ -n "${TEST_UNDECLARED_OUTPUTS_DIR:-}" ]; then
  cp "$TMP/shots/lab.png" "$TEST_UNDECLARED_OUTPUTS_DIR/"
fi

"$EMUCTL" down wlab >/dev/null 2>&1 || fail "down"
"$EMUCTL" local stop --name "$ID" >"$TMP/stop.log" 2>&1 || fail "stop: $(cat "$TMP/stop.log")"
check_nothing_left "$ID"
echo "PASS"
