#!/usr/bin/env bash
# emuctl end to end, as a user drives it: a local cluster of its own, a
# containerlab file, exit statuses, JSON status, errors for bad input, down,
# stop, and nothing left behind. Needs root; touches only names with its own
# cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test t

# Every emuctl call must fail clearly, with no cluster yet.
if out=$("$EMUCTL" status 2>&1); then fail "status without a cluster: $out"; fi
grep -q "emuctl local start" <<<"$out" || fail "no hint to start a cluster: $out"

"$EMUCTL" local start --name "$ID" --subnet 198.18.231.0/24 >"$TMP/start.log"
"$EMUCTL" hosts | has "^$ID-h1 .* yes " || fail "host not reachable: $("$EMUCTL" hosts)"

# A containerlab file with kind: linux deploys, with warnings for the image.
"$EMUCTL" up "$RUNFILES/examples/containerlab-linux.clab.yml" >"$TMP/up.log" 2>&1 ||
  fail "up failed: $(cat "$TMP/up.log")"
grep -qi "image" "$TMP/up.log" || fail "no image warning: $(cat "$TMP/up.log")"
"$EMUCTL" exec clab-linux client -- ping -c 1 -W 2 192.168.20.10 >/dev/null ||
  fail "client cannot reach server through router"

# exec: the command's exit status is emuctl's; output passes through.
set +e
"$EMUCTL" exec clab-linux router -- sh -c 'echo hello; exit 42' >"$TMP/out" 2>&1
rc=$?
set -e
[[ $rc -eq 42 ]] || fail "exec exit status $rc, want 42"
grep -qx hello "$TMP/out" || fail "exec output: $(cat "$TMP/out")"
set +e
"$EMUCTL" exec clab-linux router --timeout 500ms -- sleep 30 >/dev/null 2>&1
rc=$?
"$EMUCTL" exec clab-linux nosuch -- true >/dev/null 2>"$TMP/err"
rc2=$?
set -e
[[ $rc -eq 124 ]] || fail "timed-out exec exit status $rc, want 124"
[[ $rc2 -eq 1 ]] || fail "unknown node exit status $rc2, want 1"
grep -q "nosuch" "$TMP/err" || fail "unknown node not named: $(cat "$TMP/err")"

# status --json is machine-readable and says RUNNING.
# (to a file: grep -q stopping early would SIGPIPE emuctl under pipefail)
"$EMUCTL" status clab-linux --json >"$TMP/status.json"
grep -q '"state": *"RUNNING"' "$TMP/status.json" ||
  fail "status --json: $(cat "$TMP/status.json")"

# Bad input: clear error naming file and line, non-zero exit, no lab.
printf 'name: bad\ntopology:\n  nodes:\n    a: {}\n  links:\n    - endpoints: ["a:eth1", "zz:eth1"]\n' >"$TMP/bad.yaml"
if "$EMUCTL" up "$TMP/bad.yaml" >"$TMP/bad.log" 2>&1; then fail "bad topology deployed"; fi
grep -q "bad.yaml:6" "$TMP/bad.log" || fail "bad topology error: $(cat "$TMP/bad.log")"
if "$EMUCTL" status bad >/dev/null 2>&1; then fail "bad lab exists"; fi

"$EMUCTL" down clab-linux >/dev/null
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT

# Nothing of this cluster is left: namespaces, links, processes, state.
left=$(ls /run/netns 2>/dev/null | grep -E "^(emu\.$ID-|emuhost-$ID-)" || true)
[[ -z $left ]] || fail "namespaces left: $left"
if ip -br link | has -E "emu(br|v)-$ID"; then fail "links left: $(ip -br link | grep "$ID")"; fi
[[ ! -e /run/emu/$ID ]] || fail "state dir left"
if pgrep -f -- "--host_name=$ID-h" >/dev/null; then fail "agent left running"; fi
echo "emuctl_test: all checks passed"
