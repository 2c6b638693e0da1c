#!/usr/bin/env bash
# Prometheus metrics end to end (issue 12): a local cluster of two emulated
# hosts started with --metrics, scraped with curl as Prometheus would, each
# scrape parsed strictly (metrics_check). Checks that /metrics wants an
# administrator's token, that the lab state gauges follow a deploy and a
# destroy, that RPC counters count the calls made, that an agent reports
# its nodes and its cross-host tunnel, and that an experiment's Tasks feed
# the barrier histograms. Needs root; touches only its own cluster's names.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
CHECK=$RUNFILES/common/metrics/testing/metrics_check
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test m
DIR=/run/emu/$ID

"$EMUCTL" local start --name "$ID" --hosts 2 --metrics --subnet 198.18.241.0/24 \
  >"$TMP/start.log" 2>&1 || fail "local start: $(cat "$TMP/start.log")"
TOKEN=$(cat "$DIR/token")
wait_for 20 test -s "$DIR/controller.metrics_port" || fail "no controller.metrics_port"
wait_for 20 test -s "$DIR/agents/$ID-h1.metrics_port" || fail "no h1 metrics_port"
wait_for 20 test -s "$DIR/agents/$ID-h2.metrics_port" || fail "no h2 metrics_port"
CTL="http://127.0.0.1:$(cat "$DIR/controller.metrics_port")/metrics"
# Each agent serves on its host's address (reachable over the cluster bridge).
agent_url() {
  local ip
  ip=$(/usr/bin/python3 -c 'import json,sys; h=[h for h in json.load(open(sys.argv[1]))["hosts"] if h["name"]==sys.argv[2]][0]; print(h["address"].rsplit(":",1)[0])' \
    "$DIR/cluster.json" "$1")
  echo "http://$ip:$(cat "$DIR/agents/$1.metrics_port")/metrics"
}
H1=$(agent_url "$ID-h1")
H2=$(agent_url "$ID-h2")

# scrape URL FILE: curl with the cluster token, checked and canonicalised.
scrape() {
  curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" -o "$TMP/raw" \
    -w '%{http_code} %{content_type}' "$1" >"$TMP/code" || fail "curl $1"
  grep -q '^200 text/plain; version=0.0.4' "$TMP/code" ||
    fail "$1: $(cat "$TMP/code"): $(head -c 300 "$TMP/raw")"
  "$CHECK" <"$TMP/raw" >"$2" || fail "$1 does not parse (raw in $TMP/raw)"
}
# value FILE 'name{labels}': the sample's value (labels sorted as printed).
value() { awk -v k="$2" '$1 == k { print $2; found=1 } END { if (!found) print "none" }' "$1"; }
expect() {  # expect FILE KEY WANT
  local got; got=$(value "$1" "$2")
  [ "$got" = "$3" ] || fail "$2 = $got, want $3 (in $1)"
}

# 1. No token, a wrong one, a user's: refused.
code=$(curl -s -o /dev/null -w '%{http_code}' "$CTL")
[ "$code" = 401 ] || fail "controller /metrics without a token: $code, want 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$H1")
[ "$code" = 401 ] || fail "agent /metrics with a wrong token: $code, want 401"
"$EMUCTL" user add viewer --save "$TMP/viewer.token" >/dev/null 2>&1 || fail "user add"
code=$(curl -s -o /dev/null -w '%{http_code}' \
  -H "Authorization: Bearer $(cat "$TMP/viewer.token")" "$CTL")
[ "$code" = 403 ] || fail "controller /metrics with a user's token: $code, want 403"

# 2. Before any lab.
scrape "$CTL" "$TMP/c0"
expect "$TMP/c0" 'emu_labs{state="running"}' 0
expect "$TMP/c0" 'emu_hosts{state="up"}' 2
expect "$TMP/c0" "emu_host_up{host=\"$ID-h1\"}" 1

# 3. A lab across both hosts: gauges, RPC counters, tunnels.
cat >"$TMP/lab.yaml" <<YAML
name: mlab
topology:
  defaults: {kind: netns}
  nodes:
    a: {host: $ID-h1, interfaces: {eth1: {addresses: [10.77.0.1/24]}, eth2: {}}}
    b: {host: $ID-h2, interfaces: {eth1: {addresses: [10.77.0.2/24]}}}
    c: {host: $ID-h1, interfaces: {eth1: {}}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["a:eth2", "c:eth1"]
YAML
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
scrape "$CTL" "$TMP/c1"
expect "$TMP/c1" 'emu_labs{state="running"}' 1
expect "$TMP/c1" 'emu_nodes{state="running"}' 3
expect "$TMP/c1" 'emu_lab_nodes{lab="mlab",owner="admin"}' 3
expect "$TMP/c1" 'emu_rpc_server_handled_total{code="OK",method="DeployLab",service="emu.v1.ControllerService"}' 1
before=$(value "$TMP/c1" 'emu_rpc_server_handled_total{code="OK",method="GetLab",service="emu.v1.ControllerService"}')
[ "$before" = none ] && before=0
for _ in 1 2 3; do "$EMUCTL" status mlab >/dev/null; done
"$EMUCTL" status nosuchlab >/dev/null 2>&1 && fail "status of an unknown lab succeeded"
scrape "$CTL" "$TMP/c2"
expect "$TMP/c2" 'emu_rpc_server_handled_total{code="OK",method="GetLab",service="emu.v1.ControllerService"}' $((before + 3))
expect "$TMP/c2" 'emu_rpc_server_handled_total{code="NOT_FOUND",method="GetLab",service="emu.v1.ControllerService"}' 1
grep -q '^emu_rpc_server_duration_seconds_count{method="GetLab",service="emu.v1.ControllerService",type="unary"} ' "$TMP/c2" ||
  fail "no GetLab latency histogram"

scrape "$H1" "$TMP/a1"
expect "$TMP/a1" 'emu_agent_labs' 1
expect "$TMP/a1" 'emu_agent_nodes{kind="netns"}' 2
scrape "$H2" "$TMP/b1"
expect "$TMP/b1" 'emu_agent_nodes{kind="netns"}' 1
ops=$(value "$TMP/b1" 'emu_rpc_server_handled_total{code="OK",method="ApplyLab",service="emu.v1.AgentService"}')
[ "$ops" != none ] && [ "$ops" -ge 1 ] || fail "h2 counted no ApplyLab: $ops"
# The a-b link is a tunnel between h1 and h2: up on both ends, eventually.
tunnel_up() { scrape "$1" "$TMP/t"; [ "$(value "$TMP/t" 'emu_tunnels{state="up"}')" = 1 ]; }
wait_for 30 tunnel_up "$H1" || fail "h1 reports no tunnel up: $(grep tunnel "$TMP/t")"
wait_for 30 tunnel_up "$H2" || fail "h2 reports no tunnel up"
expect "$TMP/t" 'emu_tunnel_up{lab="mlab",link="a:eth1<->b:eth1"}' 1

# 4. An experiment of two Tasks on both hosts: skew twice, one gap.
cat >"$TMP/exp.yaml" <<'YAML'
experiment: timing
tasks:
  - name: one
    commands: [{node: a, cmd: "true"}, {node: b, cmd: "true"}]
  - name: two
    commands: [{node: a, cmd: "true"}, {node: b, cmd: "true"}]
YAML
"$EMUCTL" run mlab "$TMP/exp.yaml" >"$TMP/run.log" 2>&1 || fail "run: $(cat "$TMP/run.log")"
scrape "$CTL" "$TMP/c3"
expect "$TMP/c3" 'emu_experiment_task_skew_seconds_count' 2
expect "$TMP/c3" 'emu_experiment_task_gap_seconds_count' 1
expect "$TMP/c3" 'emu_experiment_tasks_total{status="passed"}' 2
expect "$TMP/c3" 'emu_experiment_runs{state="succeeded"}' 1

# 5. Down: the gauges follow.
"$EMUCTL" down mlab >"$TMP/down.log" 2>&1 || fail "down: $(cat "$TMP/down.log")"
scrape "$CTL" "$TMP/c4"
expect "$TMP/c4" 'emu_labs{state="running"}' 0
scrape "$H1" "$TMP/a4"
expect "$TMP/a4" 'emu_agent_labs' 0

"$EMUCTL" local stop --name "$ID" >"$TMP/stop.log" 2>&1 || fail "stop: $(cat "$TMP/stop.log")"
check_nothing_left "$ID"
echo "PASS"
