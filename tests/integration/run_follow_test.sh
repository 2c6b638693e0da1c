#!/usr/bin/env bash
# A run outlives its client (issue 9): `emuctl run` of several Tasks is
# killed (SIGKILL, by its pid) mid-run; `emuctl runs` still shows the run
# RUNNING; `emuctl runs --follow ID` prints the Tasks done so far, then the
# rest live, and ends with the run's result and the exit status `run` would
# have given (1: its last Task fails on purpose). Ctrl-C in --follow only
# detaches (exit 130; the run goes on); Ctrl-C in `run` still cancels.
# Needs root; a local cluster of its own (one host), removed at the end.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test f

"$EMUCTL" local start --name "$ID" --hosts 1 --no-supervise --subnet 198.18.235.0/24 >"$TMP/start.log"
cat >"$TMP/lab.yaml" <<'YAML'
name: followlab
topology:
  defaults: {kind: netns}
  nodes: {a: , b: }
YAML
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"

# Tasks t1..t4 of about a second each; t4 fails (exit 3), so the run FAILS.
TAG=$(( $$ % 100000 ))
cat >"$TMP/steps.yaml" <<YAML
experiment: steps
tasks:
  - {name: t1, commands: [{node: a, cmd: "sleep 1.$TAG"}, {node: b, cmd: "echo one"}]}
  - {name: t2, commands: [{node: a, cmd: "sleep 1.$TAG"}, {node: b, cmd: "echo two"}]}
  - {name: t3, commands: [{node: a, cmd: "sleep 1.$TAG"}, {node: b, cmd: "echo three"}]}
  - {name: t4, commands: [{node: a, cmd: "sleep 1.$TAG; exit 3"}]}
YAML

run_id_of() {  # the id of the RUNNING run of experiment "steps"
  "$EMUCTL" runs | awk '$3 == "steps" && $4 == "RUNNING" { print $1; exit }'
}

# 1. Kill the client mid-run; the run goes on; --follow gives its result.
"$EMUCTL" run followlab "$TMP/steps.yaml" --results "$TMP/r1" >"$TMP/run1.log" 2>&1 &
run_pid=$!
wait_for 30 grep -q "task t1 passed" "$TMP/run1.log" ||
  fail "t1 never passed: $(cat "$TMP/run1.log")"
kill -KILL "$run_pid"
wait "$run_pid" 2>/dev/null || true
"$EMUCTL" runs >"$TMP/runs1.txt"
id=$(run_id_of)
[[ -n $id ]] || fail "no RUNNING run after the client was killed: $(cat "$TMP/runs1.txt")"
set +e
"$EMUCTL" runs --follow "$id" >"$TMP/follow1.log" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "--follow exit status $rc, want 1 (t4 fails): $(cat "$TMP/follow1.log")"
for t in t1 t2 t3; do
  grep -q "task $t passed" "$TMP/follow1.log" || fail "--follow lacks $t: $(cat "$TMP/follow1.log")"
done
grep -q "task t4 FAILED" "$TMP/follow1.log" || fail "--follow lacks t4's failure: $(cat "$TMP/follow1.log")"
tail -1 "$TMP/follow1.log" | has "experiment steps FAILED" ||
  fail "--follow does not end with the run's result: $(cat "$TMP/follow1.log")"
"$EMUCTL" runs | grep "^$id " | has " FAILED " ||
  fail "run not FAILED at its end: $("$EMUCTL" runs)"
# Following an ended run replays it, with the same exit status.
set +e
"$EMUCTL" runs --follow "$id" -q >"$TMP/follow1b.log" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "experiment steps FAILED" "$TMP/follow1b.log" ||
  fail "--follow of an ended run: exit $rc: $(cat "$TMP/follow1b.log")"
if "$EMUCTL" runs --follow no-such-run >"$TMP/nosuch.log" 2>&1; then
  fail "--follow of an unknown run exited 0"
fi
grep -q "no experiment run no-such-run" "$TMP/nosuch.log" || fail "unknown run: $(cat "$TMP/nosuch.log")"

# 2. Ctrl-C in --follow detaches; the run goes on, and `run`'s Ctrl-C
#    cancels it.
"$EMUCTL" run followlab "$TMP/steps.yaml" --results "$TMP/r2" >"$TMP/run2.log" 2>&1 &
run_pid=$!
wait_for 30 grep -q "task t1 passed" "$TMP/run2.log" ||
  fail "t1 never passed: $(cat "$TMP/run2.log")"
id2=$(run_id_of)
[[ -n $id2 ]] || fail "second run not RUNNING: $("$EMUCTL" runs)"
"$EMUCTL" runs --follow "$id2" >"$TMP/follow2.log" 2>&1 &
follow_pid=$!
wait_for 30 grep -q "task t1 passed" "$TMP/follow2.log" ||
  fail "--follow printed nothing: $(cat "$TMP/follow2.log")"
kill -INT "$follow_pid"
set +e
wait "$follow_pid"
rc=$?
set -e
[[ $rc -eq 130 ]] || fail "Ctrl-C in --follow: exit $rc, want 130: $(cat "$TMP/follow2.log")"
grep -q "detached from run $id2; it goes on" "$TMP/follow2.log" || fail "no detach message: $(cat "$TMP/follow2.log")"
[[ -n $(run_id_of) ]] || fail "Ctrl-C in --follow stopped the run: $("$EMUCTL" runs)"
kill -INT "$run_pid"
set +e
wait "$run_pid"
rc=$?
set -e
[[ $rc -eq 130 ]] || fail "Ctrl-C in run: exit $rc, want 130: $(cat "$TMP/run2.log")"
wait_for 30 sh -c "\"$EMUCTL\" runs | grep '^$id2 ' | grep -q CANCELLED" ||
  fail "Ctrl-C in run did not cancel it: $("$EMUCTL" runs)"

"$EMUCTL" down followlab >/dev/null 2>&1 || fail "down"
echo PASS
