#!/usr/bin/env bash
# QEMU guests as a user drives them with emuctl: a local cluster of its own,
# examples/guests.yaml (two guests + a namespace), exec statuses and output,
# routed ping namespace -> guest -> guest, the link delay (the engine) seen in
# ping's RTT, capture on a guest's interface, Tasks on guests, a guest's Task cancelled by Ctrl-C in
# `emuctl run` (ends at once, CANCELLED, its process gone inside the guest)
# and one ended by its timeout (TIMED_OUT, the run FAILED, the console
# usable again),
# `emuctl console` from a pipe, QEMU killed -> exec and
# `emuctl status` (DEGRADED, vm1 exited) say why -> `emuctl restart` brings
# it back with its links, down, and no QEMU or guest directory left. Needs root and the default guest image (built if missing).
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test g
cleanup() {
  "$EMUCTL" down guests >/dev/null 2>&1 || true
  cluster_test_cleanup
}
trap cleanup EXIT

[[ -f /var/lib/emu/images/default/image.conf ]] ||
  "$RUNFILES/deploy/images/build_default.sh" || fail "cannot build the image"

"$EMUCTL" local start --name "$ID" --subnet 198.18.232.0/24 >"$TMP/start.log"
"$EMUCTL" hosts >"$TMP/hosts"
grep -q "^$ID-h1 .* yes .* yes " "$TMP/hosts" || fail "host cannot run qemu: $(cat "$TMP/hosts")"

start=$(date +%s.%N)
"$EMUCTL" up "$RUNFILES/examples/guests.yaml" >"$TMP/up.log" 2>&1 ||
  fail "up failed: $(cat "$TMP/up.log")"
echo "lab with 2 guests up in $(echo "$(date +%s.%N) - $start" | bc) s"
grep -q "QEMU started (tcg\|QEMU started (kvm" "$TMP/up.log" || fail "no accelerator in events"

# exec: exit status, stdout, stderr; a prompt/marker look-alike is output.
set +e
"$EMUCTL" exec guests vm1 -- sh -c 'echo out; echo err >&2; exit 42' >"$TMP/out" 2>"$TMP/err"
rc=$?
set -e
[[ $rc -eq 42 ]] || fail "exec exit status $rc, want 42"
[[ "$(cat "$TMP/out")" == out ]] || fail "stdout: $(cat "$TMP/out")"
grep -qx err "$TMP/err" || fail "stderr: $(cat "$TMP/err")"
"$EMUCTL" exec guests vm1 -- printf '%s\n' '# ' '__EMU_0000000000000000_0__' >"$TMP/out"
[[ "$(cat "$TMP/out")" == $'# \n__EMU_0000000000000000_0__' ]] || fail "look-alike: $(cat "$TMP/out")"

# Routed: ns1 -> vm2 -> vm1; 10 ms each way on vm1 <-> vm2.
"$EMUCTL" exec guests ns1 -- ping -c 3 -i 0.3 -W 5 10.0.1.1 >"$TMP/ping" ||
  fail "ns1 cannot reach vm1: $(cat "$TMP/ping")"
"$EMUCTL" exec guests vm2 -- ping -c 5 -i 0.2 10.0.1.1 >"$TMP/ping"
avg=$(sed -n 's|.*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$TMP/ping")
echo "vm2 -> vm1 RTT with 10 ms each way: $avg ms"
[[ $(echo "$avg >= 20" | bc) -eq 1 ]] || fail "RTT $avg ms < 2 x 10 ms delay"

# Capture on a guest's interface (issue 12): the frames vm1:eth1 sends and
# receives, taken on the host side of its TAP (docs/observability.md), with
# vm2's ping to vm1 in them.
export WIRESHARK_RUN_FROM_BUILD_DIRECTORY=1  # tshark as root reads files only
"$EMUCTL" capture guests vm1:eth1 -w "$TMP/vm1.pcapng" -c 4 -f icmp 2>"$TMP/cap.err" &
cap_pid=$!
BG_PIDS+=("$cap_pid")
capturing() { grep -q "capturing on" "$TMP/cap.err"; }
wait_for 30 capturing || fail "capture on vm1:eth1 not started: $(cat "$TMP/cap.err")"
"$EMUCTL" exec guests vm2 -- ping -c 2 -i 0.3 -W 5 10.0.1.1 >"$TMP/cap.ping" ||
  fail "vm2 cannot ping vm1 during the capture: $(cat "$TMP/cap.ping")"
wait_for 30 bash -c "! kill -0 $cap_pid 2>/dev/null" || fail "-c 4 did not end the capture on vm1"
wait "$cap_pid" || fail "capture on vm1:eth1 failed: $(cat "$TMP/cap.err")"
grep -q "4 packets captured" "$TMP/cap.err" || fail "capture summary: $(cat "$TMP/cap.err")"
tshark -r "$TMP/vm1.pcapng" -T fields -e ip.src -e ip.dst -e icmp.type >"$TMP/cap.txt" 2>"$TMP/cap.tshark" ||
  fail "tshark: $(cat "$TMP/cap.tshark")"
[[ $(grep -c $'^10.0.1.2\t10.0.1.1\t8$' "$TMP/cap.txt") -eq 2 ]] ||
  fail "vm1:eth1: want 2 echo requests from vm2: $(cat "$TMP/cap.txt")"
[[ $(grep -c $'^10.0.1.1\t10.0.1.2\t0$' "$TMP/cap.txt") -eq 2 ]] ||
  fail "vm1:eth1: want 2 echo replies to vm2: $(cat "$TMP/cap.txt")"
echo "capture on guest vm1:eth1: vm2's 2 echo requests and vm1's 2 replies"

# Tasks on guests and a netns node: the barrier releases them together and
# captures a guest's output for the next Task.
cat >"$TMP/exp.yaml" <<'EXP'
experiment: guest-tasks
tasks:
  - name: together
    commands:
      - {node: vm1, cmd: "sleep 0.5; echo vm1-done"}
      - {node: ns1, cmd: "sleep 0.2"}
  - name: capture
    commands:
      - {node: vm2, cmd: "cat /proc/sys/kernel/hostname", capture: {var: h, regex: "(vm[0-9])"}}
  - name: use
    commands:
      - {node: ns1, cmd: "test ${h} = vm2"}
EXP
"$EMUCTL" run guests "$TMP/exp.yaml" --results "$TMP/results" >"$TMP/run.log" 2>&1 ||
  fail "experiment on guests: $(cat "$TMP/run.log")"
grep -q "vm1-done" "$TMP"/results/run-*.json || fail "guest output not recorded"

# A cancelled command on a guest stops at once (issue 11): Ctrl-C in
# `emuctl run` types Ctrl-C on vm1's console and kills the command's process
# group inside the guest, instead of letting it run to its 240 s timeout.
# The guest command first pings ns1, so the test knows it runs (ns1's
# Icmp InEchos counter, its own namespace's /proc/net/snmp) before the
# Ctrl-C; then it sleeps.
in_echos() {
  "$EMUCTL" exec guests ns1 -- awk \
    '/^Icmp:/ { if (!c) { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i } else print $c }' \
    /proc/net/snmp
}
echos0=$(in_echos)
[[ $echos0 =~ ^[0-9]+$ ]] || fail "cannot read ns1's InEchos: '$echos0'"
cat >"$TMP/cancel.yaml" <<'EXP'
experiment: guest-cancel
tasks:
  - name: long
    commands:
      - {node: vm1, cmd: "ping -c 1 -W 5 10.0.2.1; sleep 237", timeout: 240s}
EXP
"$EMUCTL" run guests "$TMP/cancel.yaml" --results "$TMP/cancel" >"$TMP/cancel.log" 2>&1 &
run_pid=$!
started=""
for _ in $(seq 120); do  # up to 60 s (typing and decoding under TCG)
  if (($(in_echos) > echos0)); then started=1; break; fi
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.5
done
[[ -n $started ]] || fail "the guest command never pinged ns1: $(cat "$TMP/cancel.log")"
t0=$(date +%s.%N)
kill -INT "$run_pid"
set +e
wait "$run_pid"
rc=$?
set -e
took=$(echo "$(date +%s.%N) - $t0" | bc)
echo "guest command cancelled: emuctl run ended $took s after Ctrl-C"
[[ $rc -eq 130 ]] || fail "Ctrl-C exit status $rc, want 130: $(cat "$TMP/cancel.log")"
(($(echo "$took < 30" | bc))) || fail "cancel took $took s (the command's timeout is 240 s)"
# The console is free again at once and nothing of the command is left.
t0=$(date +%s.%N)
"$EMUCTL" exec guests vm1 -- ps >"$TMP/ps" || fail "exec after cancel: $(cat "$TMP/ps")"
took=$(echo "$(date +%s.%N) - $t0" | bc)
echo "exec on vm1 right after the cancel: $took s"
grep -q "sleep 237" "$TMP/ps" && fail "the cancelled command still runs in vm1: $(cat "$TMP/ps")"
grep -q "ps" "$TMP/ps" || fail "ps printed nothing: $(cat "$TMP/ps")"
# The run and its command ended CANCELLED (docs/experiments.md, "Outcomes"),
# in the results file and in the controller's record.
cancel_json=$(ls "$TMP"/cancel/run-*.json 2>/dev/null | head -1)
[[ -n $cancel_json ]] || fail "no results file of the cancelled run: $(cat "$TMP/cancel.log")"
json_field() {  # FILE EXPR: prints a field of the run's JSON
  python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
[[ $(json_field "$cancel_json" 'r["state"]') == cancelled ]] ||
  fail "cancelled run's state: $(json_field "$cancel_json" 'r["state"]')"
[[ $(json_field "$cancel_json" 'r["tasks"][0]["commands"][0]["status"]') == cancelled ]] ||
  fail "cancelled command's status: $(cat "$cancel_json")"
cancel_id=$(json_field "$cancel_json" 'r["id"]')
"$EMUCTL" runs | grep "^$cancel_id " | has CANCELLED ||
  fail "run $cancel_id not CANCELLED: $("$EMUCTL" runs)"

# A guest command's timeout ends it the same way: `sleep 600` with a 5 s
# timeout ends TIMED_OUT a few seconds after its timeout, the run FAILED,
# nothing of it is left in the guest and the console answers at once.
cat >"$TMP/timeout.yaml" <<'EXP'
experiment: guest-timeout
tasks:
  - name: long
    commands:
      - {node: vm1, cmd: "sleep 600", timeout: 5s}
EXP
t0=$(date +%s.%N)
set +e
"$EMUCTL" run guests "$TMP/timeout.yaml" --results "$TMP/timeout" >"$TMP/timeout.log" 2>&1
rc=$?
set -e
took=$(echo "$(date +%s.%N) - $t0" | bc)
echo "guest command with a 5 s timeout: emuctl run ended after $took s"
[[ $rc -eq 1 ]] || fail "timed-out run: exit status $rc, want 1: $(cat "$TMP/timeout.log")"
(($(echo "$took < 25" | bc))) || fail "a 5 s timeout took $took s"
timeout_json=$(ls "$TMP"/timeout/run-*.json 2>/dev/null | head -1)
[[ -n $timeout_json ]] || fail "no results file of the timed-out run"
[[ $(json_field "$timeout_json" 'r["state"]') == failed ]] ||
  fail "timed-out run's state: $(json_field "$timeout_json" 'r["state"]')"
[[ $(json_field "$timeout_json" 'r["tasks"][0]["commands"][0]["status"]') == timed_out ]] ||
  fail "timed-out command's status: $(cat "$timeout_json")"
"$EMUCTL" exec guests vm1 -- ps >"$TMP/ps" || fail "exec after the timeout: $(cat "$TMP/ps")"
grep -q "sleep 600" "$TMP/ps" && fail "the timed-out command still runs in vm1: $(cat "$TMP/ps")"
[[ "$("$EMUCTL" exec guests vm1 -- echo back)" == back ]] || fail "console not usable after the timeout"

# console from a pipe.
echo 'hostname' | "$EMUCTL" console guests vm2 --linger 2s >"$TMP/console" 2>"$TMP/console.err"
# (The output may follow the shell's prompt on its line: "# vm2".)
grep -qE '(^|# )vm2$' <(tr -d '\r' <"$TMP/console") || fail "console: $(cat "$TMP/console" "$TMP/console.err")"
grep -q "detached" "$TMP/console.err" || fail "no detach message"

# QEMU dies: exec says so; restart brings it back with its links.
pid=""
for d in /run/emu/guests/*; do
  [[ -f $d/owner ]] && grep -qx "$ID-h1 guests vm1" "$d/owner" && pid=$(cat "$d/qemu.pid")
done
[[ -n $pid ]] || fail "no pid file of vm1's QEMU"
"$EMUCTL" status guests >"$TMP/status"
grep -q "^State: *RUNNING" "$TMP/status" || fail "status before kill: $(cat "$TMP/status")"
grep -q "^vm1 *qemu: ready " "$TMP/status" || fail "vm1 not ready: $(cat "$TMP/status")"
kill -9 "$pid"
sleep 0.5
if "$EMUCTL" exec guests vm1 -- true >/dev/null 2>"$TMP/err"; then fail "exec on a dead guest"; fi
grep -q "killed by signal 9" "$TMP/err" || fail "no exit reason: $(cat "$TMP/err")"
# status names the dead guest, why, and the way back.
"$EMUCTL" status guests >"$TMP/status"
grep -q "^State: *DEGRADED" "$TMP/status" || fail "lab not degraded: $(cat "$TMP/status")"
grep -q "^vm1 *qemu: exited (killed by signal 9" "$TMP/status" ||
  fail "vm1 not shown exited: $(cat "$TMP/status")"
grep -q "^Error: .*vm1 (killed by signal 9.*emuctl restart guests NODE" "$TMP/status" ||
  fail "no reason/hint in the error: $(cat "$TMP/status")"
grep -q "^vm2 *qemu: ready " "$TMP/status" || fail "vm2 not ready: $(cat "$TMP/status")"
"$EMUCTL" status guests --json >"$TMP/status.json"
grep -q '"state_detail": "killed by signal 9' "$TMP/status.json" ||
  fail "json has no exit reason: $(cat "$TMP/status.json")"
"$EMUCTL" restart guests vm1 >"$TMP/restart" || fail "restart: $(cat "$TMP/restart")"
grep -q "restarted" "$TMP/restart" || fail "restart output: $(cat "$TMP/restart")"
"$EMUCTL" status guests >"$TMP/status"
grep -q "^State: *RUNNING" "$TMP/status" || fail "status after restart: $(cat "$TMP/status")"
grep -q "^vm1 *qemu: ready " "$TMP/status" || fail "vm1 not ready again: $(cat "$TMP/status")"
"$EMUCTL" exec guests ns1 -- ping -c 2 -i 0.3 -W 5 10.0.1.1 >/dev/null ||
  fail "no route to the restarted guest"

"$EMUCTL" down guests >/dev/null
for d in /run/emu/guests/*; do
  [[ -f $d/owner ]] && grep -q "^$ID-h1 " "$d/owner" && fail "guest dir left: $d"
done
if kill -0 "$pid" 2>/dev/null; then fail "QEMU $pid left"; fi
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
echo PASS
