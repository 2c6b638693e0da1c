#!/usr/bin/env bash
# `emuctl cluster add` over SSH (issue 9): a local cluster with one host,
# and a second emulated host (a namespace on the cluster's bridge with a
# real sshd, key authentication only) made an emu host through
# `cluster add`: no systemd in a namespace, so the agent runs as a detached
# process; the controller listens on 127.0.0.1 only, so the agent registers
# through the reverse tunnel on the SSH connection. Everything the command
# installs goes under --prefix (the test's own directory). A first add fails
# half way (a file where /etc/emu goes), says what was and was not done, and
# the same command, run again, finishes it. Then a lab across
# both hosts pings end to end, a second add changes nothing, and remove
# leaves no process (by pid) and no file behind. Needs root and
# openssh-server; touches only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
source "$RUNFILES/tests/integration/test_sshd.sh"
ID=a$(( $$ % 100000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json
NS=emuadd-$ID       # the second "machine"
VETH=emuaddv-$ID    # its link to the cluster's bridge
SUBNET=198.18.252
ADDR=$SUBNET.200    # its address on the cluster network
NEW=$ID-h2          # its name in the cluster
# Short: socket paths must fit in 107 bytes (Bazel's TEST_TMPDIR does not).
TMP=$(mktemp -d /tmp/emu-cadd.XXXXXX)
ROOT=$TMP/root      # --prefix: the new host's /
STATE=$TMP/state    # emuctl's record of added hosts
fail() { echo "FAIL: $*" >&2; exit 1; }
AGENT_PID=
TUNNEL_PID=
cleanup() {
  "$EMUCTL" down "lab$ID" >/dev/null 2>&1 || true
  # What add started, by pid, whether or not remove ran.
  [[ -f $ROOT/run/emu/emu-agent.pid ]] && AGENT_PID=$(cat "$ROOT/run/emu/emu-agent.pid")
  [[ -f $STATE/$NEW.json ]] &&
    TUNNEL_PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tunnel_pid"])' "$STATE/$NEW.json")
  for p in $AGENT_PID $TUNNEL_PID; do [[ $p -gt 0 ]] && kill "$p" 2>/dev/null || true; done
  # The shared SSH login emuctl keeps (ControlMaster), by its pid.
  if [[ -n ${SSH_CONFIG:-} ]]; then
    p=$(ssh_master_pid || true)
    [[ -n $p ]] && kill "$p" 2>/dev/null || true
  fi
  stop_test_sshd
  for n in $(ls /run/netns 2>/dev/null | grep -E "^emu\.$NEW\." || true); do
    ip netns del "$n" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$VETH" 2>/dev/null || true
  cluster_cleanup "$ID"
  cluster_leftovers "$ID" | sed 's/^/left after cleanup: /' >&2
  rm -rf "$TMP"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$TMP  # emuctl's shared SSH login lives here
ssh_master_pid() {
  ssh -F "$SSH_CONFIG" -o ControlPath="$TMP/emu-ssh/cm-%C" -O check "root@$ADDR" 2>&1 |
    sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p'
}
logins() { grep -c "Accepted publickey" "$TMP/ssh/sshd.log" || true; }

"$EMUCTL" local start --name "$ID" --hosts 1 --subnet "$SUBNET.0/24" >"$TMP/start.log" ||
  fail "local start: $(cat "$TMP/start.log")"

# ---- The second machine: on the cluster's bridge, sshd in it. -------------
ip netns add "$NS"
ip link add "$VETH" type veth peer name eth0 netns "$NS"
ip link set "$VETH" master "emubr-$ID" up
ip -n "$NS" addr add "$ADDR/24" dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up
mkdir -p "$TMP/ssh"
start_test_sshd "$NS" "$ADDR" "$TMP/ssh" 1
export EMU_SSH_OPTS="-F $SSH_CONFIG"

ADD=("$EMUCTL" cluster add "root@$ADDR" --name "$NEW" --prefix "$ROOT"
     --service process --state-dir "$STATE" --timeout 60)
# ---- A failure half way: a file where the host's /etc/emu must go. --------
# The steps before the credentials are done; the output says which were
# done and which not, and nothing after the failed step ran.
mkdir -p "$ROOT/etc"
echo "not a directory" >"$ROOT/etc/emu"
if "${ADD[@]}" >"$TMP/add0.log" 2>&1; then
  fail "cluster add with a file at /etc/emu succeeded: $(cat "$TMP/add0.log")"
fi
grep -q "^credentials: FAILED: " "$TMP/add0.log" || fail "half-way add: $(cat "$TMP/add0.log")"
grep -qx "done: os, privileges, packages, binaries" "$TMP/add0.log" ||
  fail "half-way add does not say what was done: $(cat "$TMP/add0.log")"
grep -qx "not done: credentials, tunnel, agent, registration" "$TMP/add0.log" ||
  fail "half-way add does not say what was not done: $(cat "$TMP/add0.log")"
[[ ! -e $ROOT/run/emu/emu-agent.pid ]] || fail "half-way add started an agent"
# Recorded already, so that `cluster remove` could undo the half.
[[ -e $STATE/$NEW.json ]] || fail "half-way add left no record for cluster remove"
rm "$ROOT/etc/emu"

# Run again once the cause is fixed: what was done stays unchanged.
t0=$(now)
logins0=$(logins)
"${ADD[@]}" >"$TMP/add1.log" 2>&1 || fail "cluster add: $(cat "$TMP/add1.log")"
grep -q "^binaries: unchanged" "$TMP/add1.log" ||
  fail "the binary copied by the failed add was copied again: $(cat "$TMP/add1.log")"
grep -q "^credentials: changed" "$TMP/add1.log" || fail "credentials: $(cat "$TMP/add1.log")"
# One login for the steps' commands (the shared master) and one for the
# reverse tunnel: not one per command.
n=$(( $(logins) - logins0 ))
echo "cluster add: $n SSH logins"
[[ $n -le 2 ]] || fail "cluster add logged in $n times (want the shared login and the tunnel's)"
cat "$TMP/add1.log"
echo "first cluster add: $(elapsed "$t0") s"
grep -q "^agent: changed (no systemd: started as a detached process" "$TMP/add1.log" ||
  fail "not the detached-process path: $(cat "$TMP/add1.log")"
grep -q "^tunnel: changed (opened: ssh -R" "$TMP/add1.log" || fail "no reverse tunnel"
grep -q "^registration: unchanged (reachable" "$TMP/add1.log" || fail "not registered"
grep -q "^packages: unchanged" "$TMP/add1.log" || fail "packages (all present here)"
for f in etc/emu/token etc/emu/emu.env etc/emu/pki/agent-$NEW.key; do
  [[ $(stat -c %a "$ROOT/$f") == 600 ]] || fail "$f is not 0600"
done
[[ $(stat -c %a "$ROOT/usr/local/bin/emu-agent") == 755 ]] || fail "emu-agent not 0755"
cmp -s "$ROOT/usr/local/bin/emu-agent" "$RUNFILES/agent/emu-agent" || fail "emu-agent differs"
AGENT_PID=$(cat "$ROOT/run/emu/emu-agent.pid")
[[ $(readlink "/proc/$AGENT_PID/exe") == "$ROOT/usr/local/bin/emu-agent" ]] ||
  fail "pid file $AGENT_PID is not the agent"
TUNNEL_PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tunnel_pid"])' "$STATE/$NEW.json")
grep -q -- "-R $ROOT/run/emu/controller.sock" "/proc/$TUNNEL_PID/cmdline" 2>/dev/null ||
  tr '\0' ' ' <"/proc/$TUNNEL_PID/cmdline" | has -- "-R $ROOT/run/emu/controller.sock" ||
  fail "tunnel pid $TUNNEL_PID is not ssh -R"
"$EMUCTL" hosts | has -E "^$NEW .* yes " || fail "hosts: $("$EMUCTL" hosts 2>&1)"

# ---- A lab across both hosts. ---------------------------------------------
cat >"$TMP/lab.yaml" <<YAML
name: lab$ID
topology:
  nodes:
    a:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.78.1.1/24]}
    b:
      host: $NEW
      interfaces:
        eth1: {addresses: [10.78.1.2/24]}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
YAML
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
wait_for 20 "$EMUCTL" exec "lab$ID" a -- ping -c 1 -W 1 10.78.1.2 ||
  fail "a ($ID-h1) cannot ping b ($NEW)"
"$EMUCTL" exec "lab$ID" b -- ping -c 3 -W 2 10.78.1.1 >/dev/null || fail "ping b->a"

# ---- Idempotent: a second add changes nothing. ----------------------------
t0=$(now)
"${ADD[@]}" >"$TMP/add2.log" 2>&1 || fail "second add: $(cat "$TMP/add2.log")"
cat "$TMP/add2.log"
echo "second cluster add (unchanged): $(elapsed "$t0") s"
n=$(grep -cE "^[a-z]+: unchanged" "$TMP/add2.log")
[[ $n -eq 8 ]] || fail "second add: $n of 8 steps unchanged: $(cat "$TMP/add2.log")"
[[ $(cat "$ROOT/run/emu/emu-agent.pid") == "$AGENT_PID" ]] || fail "agent restarted"

# ---- remove: refused while the lab uses the host, then clean. -------------
if "$EMUCTL" cluster remove "$NEW" --state-dir "$STATE" >"$TMP/rm1.log" 2>&1; then
  fail "remove while lab$ID uses $NEW succeeded"
fi
grep -q "host $NEW has nodes of lab admin/lab$ID" "$TMP/rm1.log" ||
  fail "refusal: $(cat "$TMP/rm1.log")"
readlink "/proc/$AGENT_PID/exe" >/dev/null || fail "refused remove stopped the agent"
"$EMUCTL" hosts | has -E "^$NEW .* yes " || fail "refused remove deregistered the host"
"$EMUCTL" down "lab$ID" >/dev/null
t0=$(now)
"$EMUCTL" cluster remove "$NEW" --state-dir "$STATE" >"$TMP/rm2.log" 2>&1 ||
  fail "remove: $(cat "$TMP/rm2.log")"
cat "$TMP/rm2.log"
echo "cluster remove: $(elapsed "$t0") s"
wait_for 10 bash -c "! readlink /proc/$AGENT_PID/exe" || fail "agent pid $AGENT_PID still runs"
wait_for 10 bash -c "! readlink /proc/$TUNNEL_PID/exe" || fail "ssh -R pid $TUNNEL_PID still runs"
left=$(find "$ROOT" "$STATE" -mindepth 1 \( ! -type d -o -name '*emu*' \) 2>/dev/null || true)
[[ -z $left ]] || fail "remove left files: $left"
grep -q "^drain: changed (removed from the controller" "$TMP/rm2.log" ||
  fail "remove did not deregister: $(cat "$TMP/rm2.log")"
# Forgotten by the controller at once (the old agent's certificate is
# refused from now on: registration_service_test).
if "$EMUCTL" hosts | has -E "^$NEW "; then fail "hosts still lists $NEW: $("$EMUCTL" hosts)"; fi

# ---- Added again: a new certificate is accepted; removed again. -----------
"${ADD[@]}" >"$TMP/add3.log" 2>&1 || fail "add after remove: $(cat "$TMP/add3.log")"
grep -q "^registration: unchanged (reachable" "$TMP/add3.log" || fail "re-add not registered"
"$EMUCTL" hosts | has -E "^$NEW .* yes " || fail "hosts after re-add: $("$EMUCTL" hosts 2>&1)"
AGENT_PID=$(cat "$ROOT/run/emu/emu-agent.pid")
TUNNEL_PID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tunnel_pid"])' "$STATE/$NEW.json")
"$EMUCTL" cluster remove "$NEW" --state-dir "$STATE" >"$TMP/rm3.log" 2>&1 ||
  fail "second remove: $(cat "$TMP/rm3.log")"
wait_for 10 bash -c "! readlink /proc/$AGENT_PID/exe" || fail "agent pid $AGENT_PID still runs"
wait_for 10 bash -c "! readlink /proc/$TUNNEL_PID/exe" || fail "ssh -R pid $TUNNEL_PID still runs"
if "$EMUCTL" hosts | has -E "^$NEW "; then fail "hosts lists $NEW after the second remove"; fi
echo "cluster_add_test: all checks passed"
