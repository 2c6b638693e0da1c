#!/usr/bin/env bash
# Runs survive a controller restart (issue 11): kill -9 of the controller
# mid-Task; the local cluster's supervisor starts it again, and it resumes
# the run at that Task. One command ends while no controller runs, another
# is still running when it is back: the run completes with every command's
# outcome, `emuctl run` follows it again by itself and exits 0, `runs`
# shows it SUCCEEDED and `runs --follow ID` replays it. Then Ctrl-C in a
# `run` that reattached still cancels its run, whose command is killed.
# Needs root; a local cluster of its own (one host, supervised), removed at
# the end; ends only processes it started, by pid.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test r

"$EMUCTL" local start --name "$ID" --hosts 1 --subnet 198.18.219.0/24 \
  >"$TMP/start.log" 2>&1 || fail "start: $(cat "$TMP/start.log")"
grep -q "started supervisor" "$TMP/start.log" || fail "no supervisor: $(cat "$TMP/start.log")"
controller_pid() {
  grep -oE '"controller_pid": *[0-9]+' "$EMU_CLUSTER" | grep -oE '[0-9]+$'
}
controller_back() {  # controller_back OLD_PID: a new controller answers
  local p; p=$(controller_pid)
  [ -n "$p" ] && [ "$p" != "$1" ] && "$EMUCTL" runs >/dev/null
}
cat >"$TMP/lab.yaml" <<YAML
name: rs$ID
topology:
  defaults: {kind: netns}
  nodes: {a: , b: }
YAML
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"

# t2's "slow" outlives the controller's absence; "quick" ends during it.
TAG=$(( $$ % 100000 ))
cat >"$TMP/restart.yaml" <<YAML
experiment: restart
tasks:
  - {name: t1, commands: [{node: a, cmd: "echo one"}]}
  - name: t2
    commands:
      - {id: slow, node: a, cmd: "sleep 8.$TAG; echo slow-done"}
      - {id: quick, node: b, cmd: "sleep 0.5; echo quick-done"}
  - {name: t3, commands: [{node: b, cmd: "echo three"}]}
YAML

# 1. kill -9 of the controller while t2 runs.
t0=$(now)
"$EMUCTL" run "rs$ID" "$TMP/restart.yaml" --results "$TMP/r1" >"$TMP/run1.log" 2>&1 &
run_pid=$!
wait_for 30 grep -q "task t2 released" "$TMP/run1.log" ||
  fail "t2 never released: $(cat "$TMP/run1.log")"
old=$(controller_pid)
kill -KILL "$old"
wait_for 30 controller_back "$old" ||
  fail "controller not back: $(tail -5 "/run/emu/$ID/logs/supervisor.log" 2>&1)"
echo "controller back after $(elapsed "$t0") s"
set +e
wait "$run_pid"
rc=$?
set -e
echo "run took $(elapsed "$t0") s"
[[ $rc -eq 0 ]] || fail "run exit $rc, want 0: $(cat "$TMP/run1.log")"
grep -q "lost the controller" "$TMP/run1.log" || fail "no reattach message: $(cat "$TMP/run1.log")"
grep -q "run resumed in task t2" "$TMP/run1.log" || fail "not resumed in t2: $(cat "$TMP/run1.log")"
for t in t1 t2 t3; do
  [[ $(grep -c "task $t passed" "$TMP/run1.log") -eq 1 ]] ||
    fail "task $t not printed passed once: $(cat "$TMP/run1.log")"
done
tail -2 "$TMP/run1.log" | has "1 succeeded, 0 failed" || fail "run summary: $(cat "$TMP/run1.log")"
json=$TMP/r1/run-0001.json
for out in slow-done quick-done three; do
  grep -q "$out" "$json" || fail "$out missing from the run's record: $(cat "$json")"
done
id=$(awk '$3 == "restart" { print $1; exit }' <("$EMUCTL" runs))
[[ -n $id ]] || fail "run not listed: $("$EMUCTL" runs)"
"$EMUCTL" runs | grep "^$id " | has " SUCCEEDED " || fail "run not SUCCEEDED: $("$EMUCTL" runs)"
"$EMUCTL" runs --follow "$id" >"$TMP/follow.log" 2>&1 || fail "--follow: $(cat "$TMP/follow.log")"
for t in t1 t2 t3; do
  grep -q "task $t passed" "$TMP/follow.log" || fail "--follow lacks $t: $(cat "$TMP/follow.log")"
done
grep -q "experiment restart succeeded" "$TMP/follow.log" || fail "--follow end: $(cat "$TMP/follow.log")"

# 2. Ctrl-C in a `run` that followed its run across a restart cancels it.
cat >"$TMP/long.yaml" <<YAML
experiment: long
tasks:
  - {name: hold, commands: [{node: a, cmd: "sleep 60.$TAG"}]}
YAML
"$EMUCTL" run "rs$ID" "$TMP/long.yaml" --results "$TMP/r2" >"$TMP/run2.log" 2>&1 &
run_pid=$!
wait_for 30 grep -q "task hold released" "$TMP/run2.log" ||
  fail "hold never released: $(cat "$TMP/run2.log")"
old=$(controller_pid)
kill -KILL "$old"
wait_for 30 controller_back "$old" || fail "controller not back (2)"
wait_for 30 grep -q "run resumed in task hold" "$TMP/run2.log" ||
  fail "run 2 not resumed: $(cat "$TMP/run2.log")"
pgrep -f "sleep 60.$TAG" >/dev/null || fail "the command did not survive the restart"
kill -INT "$run_pid"
set +e
wait "$run_pid"
rc=$?
set -e
[[ $rc -eq 130 ]] || fail "Ctrl-C after reattach: exit $rc, want 130: $(cat "$TMP/run2.log")"
id2=$(awk '$3 == "long" { print $1; exit }' <("$EMUCTL" runs))
"$EMUCTL" runs | grep "^$id2 " | has CANCELLED || fail "not CANCELLED: $("$EMUCTL" runs)"
# ([s]: the pattern does not match the sh -c that runs pgrep.)
wait_for 10 sh -c "! pgrep -f '[s]leep 60[.]$TAG'" || fail "the cancelled command still runs"

"$EMUCTL" down "rs$ID" >/dev/null 2>&1 || fail "down"
echo PASS
