#!/usr/bin/env bash
# Prometheus metrics end to end (issue 12): a local cluster of two emulated
# hosts started with --metrics, scraped with curl as Prometheus would, each
# scrape parsed strictly (metrics_check). Checks that /metrics wants an
# administrator's token, that the lab state gauges follow a deploy and a
# destroy, that RPC counters count the calls made, that an agent reports
# its nodes and its cross-host tunnel, that per-link counters grow after
# pings (controller merged, each agent its own side of a cross-host link),
# and that an experiment's Tasks feed the barrier histograms. Needs root; touches only its own cluster's names.
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
    a: {host: $ID-h1, interfaces: {eth1: {addresses: [10.77.0.1/24]}, eth2: {addresses: [10.77.1.1/24]}}}
    b: {host: $ID-h2, interfaces: {eth1: {addresses: [10.77.0.2/24]}}}
    c: {host: $ID-h1, interfaces: {eth1: {addresses: [10.77.1.2/24]}}}
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

# 3b. Per-link counters: pings over the same-host a-c link and the
# cross-host a-b link make their counters grow.
ns() { echo "emu.$ID-$1.mlab.$2"; }
AC='link="a:eth2<->c:eth1"'
AB='link="a:eth1<->b:eth1"'
lkey() {  # lkey NAME LINK DIRECTION FROM TO: the sample's key as printed
  echo "$1{direction=\"$3\",from=\"$4\",lab=\"mlab\",$2,to=\"$5\"}"
}
scrape "$CTL" "$TMP/l0"
ac0=$(value "$TMP/l0" "$(lkey emu_link_tx_bytes_total "$AC" a_to_b a:eth2 c:eth1)")
[ "$ac0" != none ] || fail "controller has no emu_link_tx_bytes_total for a-c: $(grep emu_link_tx "$TMP/l0")"
grep -q '^emu_node_memory_bytes{lab="mlab",node="a"} ' "$TMP/l0" || fail "no emu_node_memory_bytes of a"
wait_for 10 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.77.1.2 || fail "a cannot reach c"
ip netns exec "$(ns h1 a)" ping -q -c 20 -i 0.01 -s 1000 10.77.1.2 >/dev/null || fail "ping c"
wait_for 20 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.77.0.2 || fail "a cannot reach b"
ip netns exec "$(ns h1 a)" ping -q -c 20 -i 0.01 -s 1000 10.77.0.2 >/dev/null || fail "ping b"
scrape "$CTL" "$TMP/l1"
ac1=$(value "$TMP/l1" "$(lkey emu_link_tx_bytes_total "$AC" a_to_b a:eth2 c:eth1)")
[ "$ac1" -ge $((ac0 + 20 * 1000)) ] || fail "a->c tx bytes $ac0 -> $ac1: not 20 pings more"
acr=$(value "$TMP/l1" "$(lkey emu_link_rx_packets_total "$AC" b_to_a c:eth1 a:eth2)")
[ "$acr" != none ] && [ "$acr" -ge 20 ] || fail "c->a rx packets $acr, want >= 20 replies"
ab=$(value "$TMP/l1" "$(lkey emu_link_rx_bytes_total "$AB" a_to_b a:eth1 b:eth1)")
[ "$ab" != none ] && [ "$ab" -ge 20000 ] || fail "controller: a->b rx bytes $ab, want >= 20000"
# Each agent exports its own side of the cross-host link: h1 sends a->b,
# h2 delivers it (and h2 has no a->b tx of its own).
scrape "$H1" "$TMP/a2"
h1tx=$(value "$TMP/a2" "$(lkey emu_link_tx_bytes_total "$AB" a_to_b a:eth1 b:eth1)")
[ "$h1tx" != none ] && [ "$h1tx" -ge 20000 ] || fail "h1: a->b tx bytes $h1tx"
scrape "$H2" "$TMP/b2"
h2rx=$(value "$TMP/b2" "$(lkey emu_link_rx_bytes_total "$AB" a_to_b a:eth1 b:eth1)")
[ "$h2rx" != none ] && [ "$h2rx" -ge 20000 ] || fail "h2: a->b rx bytes $h2rx"
expect "$TMP/b2" "$(lkey emu_link_tx_bytes_total "$AB" a_to_b a:eth1 b:eth1)" none
expect "$TMP/b2" 'emu_link_series_omitted{lab="mlab"}' 0

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
