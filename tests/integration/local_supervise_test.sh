#!/usr/bin/env bash
# Supervision of a local cluster (issue 15): after kill -9 of the controller
# and then of an agent, the supervisor that `emuctl local start` runs brings
# each back (new pid in cluster.json), `local status` says so, and the lab
# deployed before is still RUNNING with a ping across its cross-host link,
# and the agents keep `local start --engine-nice` through the restart.
# kill -9 of the supervisor itself: `local start` starts only it again.
# `local stop` ends everything, supervisor included.
# Needs root; touches only names with its own id; ends only its own
# processes, by pid.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
EMUCTL=$RUNFILES/cli/emuctl
ID=s$(( $$ % 100000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json
TMP=$(mktemp -d /tmp/emu-local-supervise-test.XXXXXX)
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  "$EMUCTL" local stop --name "$ID" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

field() {  # field KEY: a top-level number of cluster.json
  grep -oE "\"$1\": *[0-9]+" "$EMU_CLUSTER" | head -1 | grep -oE '[0-9]+$'
}
host_pid() {  # host_pid N: the pid of agent N (1-based)
  grep -oE '"pid": *[0-9]+' "$EMU_CLUSTER" | sed -n "$1p" | grep -oE '[0-9]+$'
}
pid_changed() { [ "$($1 ${3:-})" != "$2" ] && kill -0 "$($1 ${3:-})" 2>/dev/null; }
controller_pid() { field controller_pid; }
lab_running() { "$EMUCTL" status "sv$ID" | has "^State:  RUNNING$"; }
# How many of PID's threads run at nice N.
threads_at_nice() {
  local n=0 t
  for t in /proc/"$1"/task/*/stat; do
    [ "$(stat_field "$t" 17)" = "$2" ] && n=$((n + 1))
  done
  echo "$n"
}
ping_across() { "$EMUCTL" exec "sv$ID" a -- ping -c 1 -W 1 10.9.2.2; }

# --engine-nice: the agents' impaired-frame senders (the engine's loop,
# the tunnels' pump) run at nice -3, restarts included.
"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.234.0/24 \
  --engine-nice -3 >"$TMP/start.log" 2>&1 || fail "start: $(cat "$TMP/start.log")"
grep -q "started supervisor" "$TMP/start.log" || fail "no supervisor: $(cat "$TMP/start.log")"
cat >"$TMP/lab.yaml" <<YAML
name: sv$ID
topology:
  nodes:
    a: {host: $ID-h1, interfaces: {eth1: {addresses: [10.9.2.1/24]}}}
    b: {host: $ID-h2, interfaces: {eth1: {addresses: [10.9.2.2/24]}}}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
YAML
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
ping_across >/dev/null || fail "no ping before any kill"
[ "$(threads_at_nice "$(host_pid 2)" -3)" -ge 2 ] ||
  fail "agent 2 has $(threads_at_nice "$(host_pid 2)" -3) threads at nice -3, want its engine loop and pump"

# ---- the controller -------------------------------------------------------
old=$(controller_pid)
kill -9 "$old"
t0=$(now)
wait_for 20 pid_changed controller_pid "$old" ||
  fail "controller not restarted: $(tail -5 "/run/emu/$ID/logs/supervisor.log")"
wait_for 20 lab_running || fail "lab not RUNNING after controller restart: $("$EMUCTL" status "sv$ID" 2>&1)"
echo "controller: back and lab RUNNING after $(elapsed "$t0") s"
wait_for 10 ping_across || fail "no ping after controller restart"
"$EMUCTL" local status --name "$ID" >"$TMP/status.txt" 2>&1 ||
  fail "status after controller restart: $(cat "$TMP/status.txt")"

# ---- an agent -------------------------------------------------------------
old=$(host_pid 2)
kill -9 "$old"
t0=$(now)
wait_for 30 pid_changed host_pid "$old" 2 ||
  fail "agent not restarted: $(tail -5 "/run/emu/$ID/logs/supervisor.log")"
wait_for 30 lab_running || fail "lab not RUNNING after agent restart: $("$EMUCTL" status "sv$ID" 2>&1)"
wait_for 10 ping_across || fail "no ping after agent restart"
echo "agent: back, lab RUNNING and ping after $(elapsed "$t0") s"
tr '\0' ' ' <"/proc/$(host_pid 2)/cmdline" | has -- "--engine_nice=-3" ||
  fail "restarted agent without --engine_nice=-3: $(tr '\0' ' ' <"/proc/$(host_pid 2)/cmdline")"
[ "$(threads_at_nice "$(host_pid 2)" -3)" -ge 2 ] ||
  fail "restarted agent 2 has $(threads_at_nice "$(host_pid 2)" -3) threads at nice -3"

# ---- the supervisor itself: start adds only it ----------------------------
sup=$(field supervisor_pid)
kill -9 "$sup"
ctl=$(controller_pid)
"$EMUCTL" local status --name "$ID" >"$TMP/status2.txt" 2>&1 &&
  fail "status says all running with the supervisor dead: $(cat "$TMP/status2.txt")"
grep -qE "^supervisor +$sup +NO" "$TMP/status2.txt" || fail "status: $(cat "$TMP/status2.txt")"
"$EMUCTL" local start --name "$ID" >"$TMP/start2.log" 2>&1 ||
  fail "start of a partly running cluster: $(cat "$TMP/start2.log")"
grep -q "started supervisor" "$TMP/start2.log" || fail "start2: $(cat "$TMP/start2.log")"
[ "$(controller_pid)" = "$ctl" ] || fail "start restarted a live controller"
lab_running || fail "lab lost by start"
"$EMUCTL" local status --name "$ID" >/dev/null || fail "not all running after start"
"$EMUCTL" local start --name "$ID" >"$TMP/start3.log" 2>&1 &&
  fail "a third start of a running cluster succeeded"

# ---- stop ends all of it --------------------------------------------------
sup=$(field supervisor_pid)
"$EMUCTL" local stop --name "$ID" >"$TMP/stop.log" 2>&1 || fail "stop: $(cat "$TMP/stop.log")"
running "$sup" && fail "supervisor $sup survived stop"
left=$(pgrep -f -- "/run/emu/$ID/|--name $ID --state-root" || true)
[ -z "$left" ] || fail "processes left: $left"
ls /run/netns | grep -E "^(emu\.$ID-h|emuhost-$ID-)" && fail "namespaces left"
echo PASS
