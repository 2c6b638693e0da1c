#!/usr/bin/env bash
# Tasks added to a live run (issue 11): while alice's run holds in its first
# Task, `emuctl runs --follow ID --add FILE` with a bad file is refused
# naming FILE:LINE and changes nothing; bob, who only views the lab, is
# refused; alice's good file (--after-current) is inserted right after the
# running Task and one appended file goes at the end; the run then passes
# every Task in that order, and --follow prints them and exits 0.
# Needs root; a local cluster of its own (one host), removed at the end.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test ad

as_alice() { "$EMUCTL" --token-file "$TMP/alice.token" "$@"; }
as_bob() { EMU_TOKEN=$(cat "$TMP/bob.token") "$EMUCTL" "$@"; }

"$EMUCTL" local start --name "$ID" --hosts 1 --no-supervise --subnet 198.18.244.0/24 >"$TMP/start.log" 2>&1 ||
  fail "start: $(cat "$TMP/start.log")"
"$EMUCTL" user add alice --save "$TMP/alice.token" >/dev/null 2>"$TMP/add.log" || fail "user add: $(cat "$TMP/add.log")"
"$EMUCTL" user add bob --save "$TMP/bob.token" >/dev/null 2>>"$TMP/add.log" || fail "user add: $(cat "$TMP/add.log")"
cat >"$TMP/lab.yaml" <<'YAML'
name: addlab
topology:
  defaults: {kind: netns}
  nodes: {a: , b: }
YAML
as_alice up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
as_alice share addlab --with bob --role viewer >/dev/null

# The gate is in node a's own /tmp (a node sees its sandbox's /tmp, not
# the host's): opened by an exec into the same node.
GATE=/tmp/gate.$$
cat >"$TMP/exp.yaml" <<YAML
experiment: grows
tasks:
  - {name: hold, commands: [{node: a, cmd: "while [ ! -e $GATE ]; do sleep 0.05; done", timeout: 60s}]}
  - {name: original, commands: [{node: b, cmd: "echo original"}]}
YAML
cat >"$TMP/bad.yaml" <<'YAML'
tasks:
  - name: broken
    commands:
      - {node: a, cmd: "true", timeout: forever}
YAML
cat >"$TMP/next.yaml" <<'YAML'
tasks:
  - {name: inserted, commands: [{node: b, cmd: "echo inserted"}]}
YAML
cat >"$TMP/last.yaml" <<'YAML'
tasks:
  - {name: appended, commands: [{node: a, cmd: "echo appended"}]}
YAML

as_alice run addlab "$TMP/exp.yaml" --results "$TMP/r" >"$TMP/run.log" 2>&1 &
run_pid=$!
wait_for 30 grep -q "task hold released" "$TMP/run.log" || fail "hold never released: $(cat "$TMP/run.log")"
id=$(as_alice runs | awk '$3 == "grows" && $4 == "RUNNING" { print $1; exit }')
[[ -n $id ]] || fail "no RUNNING run: $(as_alice runs)"

# A bad file: refused naming FILE:LINE, the run unchanged.
if as_alice runs --follow "$id" --add "$TMP/bad.yaml" >"$TMP/bad.log" 2>&1; then
  fail "bad file accepted: $(cat "$TMP/bad.log")"
fi
grep -q "bad.yaml:4:" "$TMP/bad.log" || fail "refusal does not name bad.yaml:4: $(cat "$TMP/bad.log")"
# A viewer may not add.
if as_bob runs --follow "$id" --add "$TMP/next.yaml" >"$TMP/bob.log" 2>&1; then
  fail "viewer added Tasks: $(cat "$TMP/bob.log")"
fi
grep -q "bob may not run experiments on" "$TMP/bob.log" || fail "viewer refusal: $(cat "$TMP/bob.log")"
# --add without --follow is a usage error.
if as_alice runs --add "$TMP/next.yaml" >"$TMP/usage.log" 2>&1; then fail "--add without --follow accepted"; fi
grep -q "need --follow" "$TMP/usage.log" || fail "usage: $(cat "$TMP/usage.log")"

# Appended at the end, then inserted after the running Task.
as_alice runs --follow "$id" --add "$TMP/last.yaml" >"$TMP/follow-last.log" 2>&1 &
last_pid=$!
wait_for 30 grep -q "added to run $id: appended" "$TMP/follow-last.log" ||
  fail "append: $(cat "$TMP/follow-last.log")"
as_alice runs --follow "$id" --add "$TMP/next.yaml" --after-current >"$TMP/follow.log" 2>&1 &
follow_pid=$!
wait_for 30 grep -q "added to run $id: inserted" "$TMP/follow.log" || fail "insert: $(cat "$TMP/follow.log")"
as_alice exec addlab a -- touch "$GATE" || fail "could not open the gate in node a"

set +e
wait "$follow_pid"; rc=$?
wait "$last_pid"; rc_last=$?
wait "$run_pid"; rc_run=$?
set -e
[[ $rc -eq 0 && $rc_last -eq 0 && $rc_run -eq 0 ]] ||
  fail "exit statuses follow=$rc follow-last=$rc_last run=$rc_run: $(cat "$TMP/follow.log" "$TMP/run.log")"
grep -q "1 task added after task hold: inserted" "$TMP/follow.log" || fail "no TASKS_ADDED line: $(cat "$TMP/follow.log")"
order=$(grep -oE "task [a-z]+ passed" "$TMP/follow.log" | awk '{ print $2 }' | paste -sd, -)
[[ $order == "hold,inserted,original,appended" ]] || fail "Tasks ran as $order: $(cat "$TMP/follow.log")"
grep -q '"stdout": "appended' "$TMP"/r/run-0001.json || fail "run record lacks the appended Task's output"

as_alice down addlab >/dev/null 2>&1 || fail "down"
echo PASS
