#!/usr/bin/env bash
# The multi-host control plane as an operator sees it.
#  1. A local cluster of three emulated hosts (namespaces on a bridge, one
#     real agent each): `emuctl plan` shows the placement and cut links; a
#     lab spread over the hosts deploys and forwards across a cross-host
#     link; kill -9 of one agent turns the lab DEGRADED within 10 s, naming
#     its nodes and links; the agent restarted (one of its namespaces
#     deleted meanwhile) brings the lab back to RUNNING with everything
#     re-created, without redeploying the rest; down leaves nothing.
#  2. Self-registration: a controller with no --agents, two agents started
#     with --controller register and heartbeat; kill -9 and restart of one
#     (on a new port) is noticed, and the lab recovers.
# Needs root; touches only names with its own id; ends only its own
# processes, by pid.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
AGENT=$RUNFILES/agent/emu-agent
CONTROLLER=$RUNFILES/controller/emu-controller
ID=c$(( $$ % 100000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json
TMP=$(mktemp -d /tmp/emu-cluster-test.XXXXXX)
OURS=()  # pids of the processes this script started itself
fail() { echo "FAIL: $*" >&2; exit 1; }
stop_ours() {
  for p in "${OURS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${OURS[@]}"; do wait "$p" 2>/dev/null || true; done
  OURS=()
}
cleanup() {
  stop_ours
  cluster_cleanup "$ID"
  cluster_leftovers "$ID" | sed 's/^/left after cleanup: /' >&2
  # Namespaces the restarted agent made, should a check stop this script
  # before `down`.
  for n in $(ls /run/netns 2>/dev/null | grep -E "^emu\.$ID" || true); do
    ip netns del "$n" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

lab_state() {  # lab_state LAB STATE [emuctl flags...]
  local lab=$1 state=$2; shift 2
  "$EMUCTL" "$@" status "$lab" | grep "^State:  $state\$" >/dev/null
}

# ---- 1. Local cluster, three hosts ---------------------------------------
# It kills daemons and restarts them by hand: no supervisor.
"$EMUCTL" local start --name "$ID" --hosts 3 --no-supervise --subnet 198.18.232.0/24 >"$TMP/start.log"
H1=$ID-h1 H2=$ID-h2 H3=$ID-h3
cat >"$TMP/spread.yaml" <<YAML
name: spread$ID
topology:
  nodes:
    a1: {host: $H1}
    # No mac: the controller gives each link interface a stable one, so
    # a2's ARP entry for b1 stays right when b1 is re-created.
    a2: {host: $H1, interfaces: {eth2: {addresses: [10.9.12.1/24]}}}
    b1: {host: $H2, interfaces: {eth1: {addresses: [10.9.12.2/24]}}}
    b2: {host: $H2}
    c1: {host: $H3}
    c2: {host: $H3}
  links:
    - endpoints: ["a1:eth1", "a2:eth1"]
    - endpoints: ["a2:eth2", "b1:eth1"]
      rate: 100mbit
    - endpoints: ["b1:eth2", "b2:eth1"]
    - endpoints: ["b2:eth2", "c1:eth1"]
    - endpoints: ["c1:eth2", "c2:eth1"]
YAML
LAB=spread$ID

"$EMUCTL" plan "$TMP/spread.yaml" >"$TMP/plan.txt" || fail "plan: $(cat "$TMP/plan.txt")"
grep -q "2 of 5 links cross hosts" "$TMP/plan.txt" || fail "plan summary: $(cat "$TMP/plan.txt")"
grep -q "^a2:eth2<->b1:eth1  $H1/$H2  100Mbit/s" "$TMP/plan.txt" ||
  fail "plan cut links: $(cat "$TMP/plan.txt")"
"$EMUCTL" plan "$TMP/spread.yaml" --json | grep '"cut_links"' >/dev/null || fail "plan --json"
if "$EMUCTL" status "$LAB" >/dev/null 2>&1; then fail "plan deployed the lab"; fi

"$EMUCTL" up "$TMP/spread.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
"$EMUCTL" exec "$LAB" a2 -- ping -c 1 -W 3 10.9.12.2 >/dev/null ||
  fail "no ping across the h1-h2 link"

# kill -9 the agent of h2: DEGRADED within 10 s, naming b1, b2 and links.
AGENT_PID=$(pgrep -f -- "--host_name=$H2 " || pgrep -f -- "--host_name=$H2\$")
[[ -n $AGENT_PID ]] || fail "no agent for $H2"
mapfile -d '' ARGV </proc/"$AGENT_PID"/cmdline
kill -9 "$AGENT_PID"  # the local cluster's agent: started by this script
t0=$(now)
wait_for 10 lab_state "$LAB" DEGRADED || fail "not DEGRADED within 10 s: $("$EMUCTL" status "$LAB")"
echo "DEGRADED after $(elapsed "$t0") s"
"$EMUCTL" status "$LAB" >"$TMP/degraded.txt"
grep -q "host $H2 unreachable (nodes b1, b2; links a2:eth2<->b1:eth1, b1:eth2<->b2:eth1, b2:eth2<->c1:eth1)" \
  "$TMP/degraded.txt" || fail "degraded status: $(cat "$TMP/degraded.txt")"

# While it is down, its host loses b2's namespace; then the agent restarts.
ip netns del "emu.$H2.$LAB.b2"
nsenter --net="/run/netns/emuhost-$H2" "${ARGV[@]}" >"$TMP/agent-h2.log" 2>&1 &
OURS+=($!)
t0=$(now)
wait_for 15 lab_state "$LAB" RUNNING || fail "not RUNNING again: $("$EMUCTL" status "$LAB")"
echo "RUNNING again after $(elapsed "$t0") s"
"$EMUCTL" exec "$LAB" b2 -- ip link show eth2 >/dev/null || fail "b2 not re-created"
wait_for 10 "$EMUCTL" exec "$LAB" a2 -- ping -c 1 -W 1 10.9.12.2 ||
  fail "no ping across the h1-h2 link after recovery"

"$EMUCTL" down "$LAB" >/dev/null
left=$(ls /run/netns | grep -E "^emu\.$ID-" || true)
[[ -z $left ]] || fail "namespaces left after down: $left"
stop_ours
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1

# ---- 2. Self-registration, hand-started daemons on mutual TLS -------------
unset EMU_CLUSTER
umask 077
head -c 24 /dev/urandom | base64 >"$TMP/token"
R1=${ID}r1 R2=${ID}r2
"$EMUCTL" cluster init --dir "$TMP/pki" --name "$ID" >/dev/null ||
  fail "cluster init"
[[ $(stat -c %a "$TMP/pki/ca.key") == 600 && $(stat -c %a "$TMP/pki/controller.key") == 600 ]] ||
  fail "PKI keys not 0600"
for r in "$R1" "$R2"; do
  "$EMUCTL" cluster cert --dir "$TMP/pki" "$r" --san 127.0.0.1 >/dev/null ||
    fail "cluster cert $r"
done
"$CONTROLLER" --listen=127.0.0.1:0 --port_file="$TMP/controller.port" \
  --db="$TMP/labs.db" --token_file="$TMP/token" --pki_dir="$TMP/pki" \
  >"$TMP/controller.log" 2>&1 &
OURS+=($!)
wait_for 10 test -s "$TMP/controller.port" || fail "controller did not start"
CPORT=$(cat "$TMP/controller.port")
C=(--controller "127.0.0.1:$CPORT" --token-file "$TMP/token" --ca-file "$TMP/pki/ca.crt")
start_agent() {  # start_agent NAME: on a fresh loopback port
  rm -f "$TMP/$1.port"
  "$AGENT" --listen=127.0.0.1:0 --port_file="$TMP/$1.port" --host_name="$1" \
    --state_dir="$TMP/$1" --token_file="$TMP/token" --tunnel_listen=none \
    --pki_dir="$TMP/pki" \
    --controller="127.0.0.1:$CPORT" >>"$TMP/$1.log" 2>&1 &
  OURS+=($!)
  LAST_AGENT=$!
}
start_agent "$R1"
start_agent "$R2"
R2_PID=$LAST_AGENT
hosts_up() { [[ $("$EMUCTL" "${C[@]}" hosts | grep -cE "^($R1|$R2) .* yes ") == 2 ]]; }
wait_for 10 hosts_up || fail "agents did not register: $("$EMUCTL" "${C[@]}" hosts)"
grep -q "host $R2 registered from 127.0.0.1:" "$TMP/controller.log" ||
  fail "no registration in the controller log"
# Without the CA emuctl speaks plain text, which the TLS port refuses.
if out=$("$EMUCTL" --controller "127.0.0.1:$CPORT" --token-file "$TMP/token" hosts 2>&1); then
  fail "plain text served by a TLS controller: $out"
fi
grep -q -- "--ca-file" <<<"$out" || fail "plain-text refusal without a hint: $out"

cat >"$TMP/reg.yaml" <<YAML
name: reg$ID
topology:
  nodes:
    x: {host: $R1}
    y: {host: $R2}
YAML
"$EMUCTL" "${C[@]}" up "$TMP/reg.yaml" >/dev/null 2>&1 || fail "up on registered hosts"
kill -9 "$R2_PID"
wait "$R2_PID" 2>/dev/null || true
t0=$(now)
wait_for 10 lab_state "reg$ID" DEGRADED "${C[@]}" || fail "registered host loss not seen"
echo "registered host: DEGRADED after $(elapsed "$t0") s"
"$EMUCTL" "${C[@]}" status "reg$ID" | grep "host $R2 unreachable (nodes y)" >/dev/null ||
  fail "degraded status: $("$EMUCTL" "${C[@]}" status "reg$ID")"
start_agent "$R2"  # a new port: the registration moves the host
t0=$(now)
wait_for 15 lab_state "reg$ID" RUNNING "${C[@]}" || fail "registered host did not come back"
echo "registered host: RUNNING again after $(elapsed "$t0") s"
"$EMUCTL" "${C[@]}" exec "reg$ID" y -- true || fail "exec on the returned host"
"$EMUCTL" "${C[@]}" down "reg$ID" >/dev/null
left=$(ls /run/netns | grep -E "^emu\.$ID" || true)
[[ -z $left ]] || fail "namespaces left: $left"
stop_ours
left=$(ls /run/netns | grep -E "^emu\.$ID" || true)
[[ -z $left ]] || fail "namespaces left: $left"
echo "cluster_test: all checks passed"
