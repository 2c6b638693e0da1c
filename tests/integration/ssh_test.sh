#!/usr/bin/env bash
# emuctl over SSH (issue 9), as a remote user drives it: a real sshd (key
# authentication only) in a namespace of the test's own, a controller that
# listens only on a unix socket, with mutual TLS (the cluster's own CA) and
# started with no --token_file (so it generates its own token), one agent,
# and emuctl going through `--ssh root@ADDR` for hosts, up, status, exec
# (its streamed progress) and down, reading the token and the CA over SSH,
# and through a saved remote (`remote add` fetched the CA); capture; a QEMU guest's console (typed into
# from a pipe, and an unknown node refused) and restart over SSH, relayed
# by the controller (the agents accept only its certificate). Repeated verbs reuse one SSH login
# (ControlMaster): sshd sees no new login. Then a dropped SSH connection in
# the middle of an exec, and an sshd that is gone, each must give a clear
# error naming the gateway; no ssh process and no tunnel socket may be left. Needs root and openssh-server;
# ends only its own processes, by pid, and removes its namespace in a trap.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
source "$RUNFILES/tests/integration/test_sshd.sh"
EMUCTL=$RUNFILES/cli/emuctl
AGENT=$RUNFILES/agent/emu-agent
CONTROLLER=$RUNFILES/controller/emu-controller
ID=s$(( $$ % 100000 ))
HOST=${ID}h1
NS=emussh-$ID
VETH=emusshv-$ID
GW=198.19.254.2  # the namespace's end of the test's own veth pair
# Short: the socket paths must fit in 107 bytes (Bazel's TEST_TMPDIR does not).
TMP=$(mktemp -d /tmp/emu-ssh-test.XXXXXX)
OURS=()  # pids of the processes this script started itself
fail() { echo "FAIL: $*" >&2; exit 1; }
stop_ours() {
  for p in "${OURS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${OURS[@]}"; do wait "$p" 2>/dev/null || true; done
  OURS=()
}
cleanup() {
  # The lab first, while the controller and agent still run.
  for l in "lab$ID" "vm$ID"; do
    "$EMUCTL" --controller "unix:$TMP/run/controller.sock" --ca-file "$TMP/pki/ca.crt" \
      --token-file "$TMP/ctl/token" down "$l" >/dev/null 2>&1 || true
  done
  # emuctl's shared SSH connection (ControlMaster), by its pid.
  end_ssh_master
  if [[ -n $SSHD_PID ]]; then
    # sshd's per-connection children, then sshd itself.
    for p in $(pgrep -P "$SSHD_PID" || true); do kill "$p" 2>/dev/null || true; done
  fi
  stop_ours
  for n in $(ls /run/netns 2>/dev/null | grep -E "^emu\.$HOST\." || true); do
    ip netns del "$n" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$VETH" 2>/dev/null || true
  if [[ $MADE_RUN_SSHD == 1 ]]; then rmdir /run/sshd 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
# The pid of the ssh master emuctl keeps for the gateway, if one runs.
ssh_master_pid() {
  ssh -F "$SSH_CONFIG" -o ControlPath="$TMP/emu-ssh/cm-%C" -O check "root@$GW" 2>&1 |
    sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p'
}
end_ssh_master() {
  [[ -n ${SSH_CONFIG:-} ]] || return 0
  local p
  p=$(ssh_master_pid || true)
  if [[ -n $p ]]; then kill "$p" 2>/dev/null || true; fi
}
logins() { grep -c "Accepted publickey" "$TMP/sshd.log" || true; }


# ---- The gateway: a namespace with sshd, reachable only over a veth. ------
ip netns add "$NS"
ip link add "$VETH" type veth peer name eth0 netns "$NS"
ip addr add 198.19.254.1/30 dev "$VETH"
ip link set "$VETH" up
ip -n "$NS" addr add "$GW/30" dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up
start_test_sshd "$NS" "$GW" "$TMP"
OURS+=("$SSHD_PID")
export EMU_SSH_OPTS="-F $SSH_CONFIG"
export XDG_RUNTIME_DIR=$TMP  # emuctl's tunnel sockets
export XDG_CONFIG_HOME=$TMP/config
unset EMU_CLUSTER

# ---- The cluster: a controller on a unix socket only, no --token_file. ----
# Mutual TLS between the daemons and from emuctl (the default): the
# cluster's CA and certificates in $TMP/pki.
"$EMUCTL" cluster init --dir "$TMP/pki" >/dev/null
"$EMUCTL" cluster cert --dir "$TMP/pki" "$HOST" --san 127.0.0.1 >/dev/null
"$CONTROLLER" --listen="unix:$TMP/run/controller.sock" --db="$TMP/ctl/labs.db" \
  --pki_dir="$TMP/pki" >"$TMP/controller.log" 2>&1 &
OURS+=($!)
wait_for 10 test -S "$TMP/run/controller.sock" ||
  fail "controller did not start: $(cat "$TMP/controller.log")"
[[ $(stat -c %a "$TMP/ctl/token") == 600 ]] || fail "generated token not 0600"
[[ $(stat -c %a "$TMP/run/controller.sock") == 660 ]] || fail "socket not 0660"
grep -q "generated a token into $TMP/ctl/token" "$TMP/controller.log" ||
  fail "the log does not say where the token is: $(cat "$TMP/controller.log")"
"$AGENT" --listen=127.0.0.1:0 --port_file="$TMP/agent.port" --host_name="$HOST" \
  --state_dir="$TMP/agent" --token_file="$TMP/ctl/token" --tunnel_listen=none \
  --pki_dir="$TMP/pki" --guest_snapshot_dir="$TMP/snapshots" --guest_run_dir="$TMP/guests" \
  --controller="unix:$TMP/run/controller.sock" >"$TMP/agent.log" 2>&1 &
OURS+=($!)
DIRECT=(--controller "unix:$TMP/run/controller.sock" --ca-file "$TMP/pki/ca.crt")

# Secure by default: no anonymous calls, not even on the private socket.
if out=$("$EMUCTL" "${DIRECT[@]}" hosts 2>&1); then fail "anonymous call served: $out"; fi
grep -q "rejected the call without a token" <<<"$out" || fail "anonymous call: $out"

# ---- emuctl through the gateway. -----------------------------------------
S=(--ssh "root@$GW" --ssh-target "unix:$TMP/run/controller.sock"
   --ssh-token-path "$TMP/ctl/token" --ssh-ca-path "$TMP/pki/ca.crt")
# Plain text inside the tunnel is refused by the TLS controller.
if out=$("$EMUCTL" --ssh "root@$GW" --ssh-target "unix:$TMP/run/controller.sock" \
    --token-file "$TMP/ctl/token" hosts 2>&1); then
  fail "plain text through the tunnel to a TLS controller: $out"
fi
host_up() { "$EMUCTL" "${S[@]}" hosts | has -E "^$HOST .* yes "; }
wait_for 15 host_up || fail "hosts over ssh: $("$EMUCTL" "${S[@]}" hosts 2>&1)"

cat >"$TMP/lab.yaml" <<YAML
name: lab$ID
topology:
  nodes:
    a:
      host: $HOST
      interfaces:
        eth1: {addresses: [10.79.1.1/24]}
    b:
      host: $HOST
      interfaces:
        eth1: {addresses: [10.79.1.2/24]}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
YAML
"$EMUCTL" "${S[@]}" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 ||
  fail "up over ssh: $(cat "$TMP/up.log")"
# The deploy's progress streams through the tunnel: the agent's events
# ("[   0.4s] HOST: created node a"), not only emuctl's own last line.
grep -q "\] $HOST: .* a\b" "$TMP/up.log" ||
  fail "no streamed up progress over ssh: $(cat "$TMP/up.log")"
grep -q "^lab lab$ID is RUNNING" "$TMP/up.log" || fail "up over ssh: $(cat "$TMP/up.log")"
"$EMUCTL" "${S[@]}" status "lab$ID" >"$TMP/status.txt"
grep -q "^State:  RUNNING$" "$TMP/status.txt" || fail "status over ssh: $(cat "$TMP/status.txt")"
set +e
"$EMUCTL" "${S[@]}" exec "lab$ID" a -- sh -c 'echo hello-over-ssh; exit 7' >"$TMP/exec.out" 2>&1
rc=$?
set -e
[[ $rc -eq 7 ]] || fail "exec over ssh: exit $rc, want 7: $(cat "$TMP/exec.out")"
grep -qx hello-over-ssh "$TMP/exec.out" || fail "exec output: $(cat "$TMP/exec.out")"

# One login for all of it: the master emuctl keeps (ControlPersist) serves
# the next verbs, their token and CA reads included.
[[ -n $(ssh_master_pid) ]] || fail "no shared ssh master under $TMP/emu-ssh"
before=$(logins)
for _ in 1 2 3; do "$EMUCTL" "${S[@]}" status "lab$ID" >/dev/null || fail "status (reused)"; done
[[ $(logins) == "$before" ]] || fail "repeated verbs logged in again: $before -> $(logins)"

# A saved remote needs no other flag (the options still from EMU_SSH_OPTS);
# `remote add` reads the CA over SSH and saves it, so TLS needs nothing
# more. A wrong CA path fails and names it.
if out=$("$EMUCTL" remote add bad "root@$GW" --ca-path "$TMP/nosuch.crt" 2>&1); then
  fail "remote add with a missing CA: $out"
fi
grep -q "cannot read the cluster CA $TMP/nosuch.crt on root@$GW" <<<"$out" ||
  fail "missing CA not named: $out"
"$EMUCTL" remote add gw "root@$GW" --target "unix:$TMP/run/controller.sock" \
  --token-path "$TMP/ctl/token" --ca-path "$TMP/pki/ca.crt"
"$EMUCTL" remote ls | has -E "^gw .* tls( |$)" || fail "remote ls: $("$EMUCTL" remote ls)"
"$EMUCTL" remote default gw
[[ $(stat -c %a "$XDG_CONFIG_HOME/emu/remotes.json") == 600 ]] || fail "remotes.json mode"
"$EMUCTL" status "lab$ID" | grep "^State:  RUNNING$" >/dev/null || fail "status via default remote"

"$EMUCTL" "${S[@]}" down "lab$ID" >"$TMP/down.log" 2>&1 || fail "down over ssh: $(cat "$TMP/down.log")"
"$EMUCTL" "${S[@]}" up "$TMP/lab.yaml" >/dev/null 2>&1 || fail "second up over ssh"

# ---- A guest's console and restart over SSH (the controller's relay). -----
[[ -f /var/lib/emu/images/default/image.conf ]] ||
  "$RUNFILES/deploy/images/build_default.sh" >"$TMP/image.log" 2>&1 ||
  fail "cannot build the guest image: $(tail -5 "$TMP/image.log")"
cat >"$TMP/vm.yaml" <<YAML
name: vm$ID
placement: {overcommit: true}
topology:
  kinds:
    qemu: {cpus: 1, memory: 256MiB}
  nodes:
    g: {kind: qemu, host: $HOST}
YAML
# Token and CA from local copies from here on: reading them over SSH costs
# a remote shell each (seconds where root's shell rc is slow), and these
# parts are about streams, not about where the token comes from.
R=(--ssh "root@$GW" --ssh-target "unix:$TMP/run/controller.sock"
   --token-file "$TMP/ctl/token" --ca-file "$TMP/pki/ca.crt")
"$EMUCTL" "${R[@]}" up "$TMP/vm.yaml" >"$TMP/vm-up.log" 2>&1 ||
  fail "guest up over ssh: $(cat "$TMP/vm-up.log")"
echo 'echo con$((6*7))sole' | "$EMUCTL" "${R[@]}" console "vm$ID" g --linger 2s \
  >"$TMP/console.out" 2>"$TMP/console.err" ||
  fail "console over ssh: $(cat "$TMP/console.out" "$TMP/console.err")"
# The shell's output may follow its prompt on the line ("# con42sole")
# when the prompt was printed before the line was typed.
grep -qE '(^|# )con42sole$' <(tr -d '\r' <"$TMP/console.out") ||
  fail "console over ssh did not run the typed line: $(cat "$TMP/console.out" "$TMP/console.err")"
grep -q "detached from vm$ID/g" "$TMP/console.err" || fail "no detach: $(cat "$TMP/console.err")"
if out=$(echo true | "$EMUCTL" "${R[@]}" console "vm$ID" nosuch --linger 1s 2>&1); then
  fail "console of an unknown node over ssh: $out"
fi
grep -q "lab vm$ID has no node nosuch" <<<"$out" || fail "unknown node not named: $out"
"$EMUCTL" "${R[@]}" restart "vm$ID" g >"$TMP/restart.out" 2>&1 ||
  fail "restart over ssh: $(cat "$TMP/restart.out")"
grep -q "restarted" "$TMP/restart.out" || fail "restart output: $(cat "$TMP/restart.out")"
"$EMUCTL" "${R[@]}" exec "vm$ID" g -- echo back >"$TMP/back.out" 2>&1 ||
  fail "exec after restart over ssh: $(cat "$TMP/back.out")"
grep -qx back "$TMP/back.out" || fail "guest after restart: $(cat "$TMP/back.out")"
"$EMUCTL" "${R[@]}" down "vm$ID" >/dev/null || fail "guest down over ssh"

# ---- capture over SSH: the pcapng streams through the tunnel. ------------
"$EMUCTL" "${R[@]}" capture "lab$ID" b:eth1 -w "$TMP/cap.pcapng" -c 4 -f icmp \
  2>"$TMP/cap.err" &
CAP_PID=$!
OURS+=("$CAP_PID")
wait_for 20 grep -q "capturing on" "$TMP/cap.err" ||
  fail "capture over ssh did not start: $(cat "$TMP/cap.err")"
"$EMUCTL" "${R[@]}" exec "lab$ID" a -- ping -c 2 -i 0.2 -W 2 10.79.1.2 >"$TMP/ping.out" 2>&1 ||
  fail "ping a->b over ssh: $(cat "$TMP/ping.out")"
wait_for 20 bash -c "! kill -0 $CAP_PID 2>/dev/null" || fail "capture -c 4 over ssh did not end"
rc=0
wait "$CAP_PID" || rc=$?
[[ $rc -eq 0 ]] || fail "capture over ssh exited $rc: $(cat "$TMP/cap.err")"
grep -q "4 packets captured" "$TMP/cap.err" || fail "capture summary: $(cat "$TMP/cap.err")"
frames=$(tshark -r "$TMP/cap.pcapng" -T fields -e ip.dst -e icmp.type 2>&1) ||
  fail "tshark over the capture: $frames"
[[ $(grep -c $'^10.79.1.2\t8$' <<<"$frames") -eq 2 ]] ||
  fail "capture over ssh lacks the two echo requests: $frames"

# ---- stats, linktest, user and share over SSH (the same Connect path). ---
"$EMUCTL" "${R[@]}" stats "lab$ID" >"$TMP/stats.out" 2>&1 ||
  fail "stats over ssh: $(cat "$TMP/stats.out")"
grep -q "eth1" "$TMP/stats.out" || fail "stats over ssh lacks the link: $(cat "$TMP/stats.out")"
"$EMUCTL" "${R[@]}" linktest "lab$ID" --no-rate --count 10 --interval 50ms \
  >"$TMP/linktest.out" 2>&1 || true  # its verdict depends on the kernel's qdiscs
grep -q "a:eth1" "$TMP/linktest.out" || fail "linktest over ssh: $(cat "$TMP/linktest.out")"
"$EMUCTL" "${R[@]}" user add "u$ID" --save "$TMP/u.token" >/dev/null 2>"$TMP/user.err" ||
  fail "user add over ssh: $(cat "$TMP/user.err")"
[[ -s $TMP/u.token ]] || fail "user add over ssh saved no token"
"$EMUCTL" "${R[@]}" user ls | grep "^u$ID " >/dev/null || fail "user ls over ssh: $("$EMUCTL" "${R[@]}" user ls 2>&1)"
"$EMUCTL" "${R[@]}" share "lab$ID" --with "u$ID" >/dev/null || fail "share over ssh"
"$EMUCTL" "${R[@]}" unshare "lab$ID" --with "u$ID" >/dev/null || fail "unshare over ssh"
"$EMUCTL" "${R[@]}" user rm "u$ID" >/dev/null || fail "user rm over ssh"
# Without the shared login (EMU_SSH_PERSIST=0): an ssh of its own per verb,
# ended with emuctl.
EMU_SSH_PERSIST=0 "$EMUCTL" "${R[@]}" status "lab$ID" | grep "^State:  RUNNING$" >/dev/null ||
  fail "status over ssh with EMU_SSH_PERSIST=0"

# ---- run over SSH: Ctrl-C cancels it on the controller; a dropped ---------
# connection leaves it RUNNING, and `runs --follow ID` reattaches.
cat >"$TMP/steps.yaml" <<YAML
experiment: steps
tasks:
  - {name: t1, commands: [{node: a, cmd: "sleep 1"}]}
  - {name: t2, commands: [{node: a, cmd: "sleep 15"}]}
  - {name: t3, commands: [{node: b, cmd: "echo three"}]}
YAML
run_state() {  # the state of run $1
  "$EMUCTL" "${R[@]}" runs | awk -v id="$1" '$1 == id { print $4 }'
}
running_id() {
  "$EMUCTL" "${R[@]}" runs | awk '$3 == "steps" && $4 == "RUNNING" { print $1; exit }'
}
"$EMUCTL" "${R[@]}" run "lab$ID" "$TMP/steps.yaml" >"$TMP/run1.log" 2>&1 &
RUN_PID=$!
OURS+=("$RUN_PID")
wait_for 30 grep -q "task t1 passed" "$TMP/run1.log" || fail "run over ssh: $(cat "$TMP/run1.log")"
id=$(running_id)
[[ -n $id ]] || fail "no RUNNING run over ssh: $("$EMUCTL" "${R[@]}" runs 2>&1)"
kill -INT "$RUN_PID"
set +e
wait "$RUN_PID"
rc=$?
set -e
[[ $rc -eq 130 ]] || fail "Ctrl-C in run over ssh: exit $rc, want 130: $(cat "$TMP/run1.log")"
wait_for 30 bash -c "[[ \$(\"$EMUCTL\" ${R[*]@Q} runs | awk -v id=$id '\$1 == id { print \$4 }') == CANCELLED ]]" ||
  fail "Ctrl-C over ssh did not cancel run $id: $("$EMUCTL" "${R[@]}" runs 2>&1)"

"$EMUCTL" "${R[@]}" run "lab$ID" "$TMP/steps.yaml" >"$TMP/run2.log" 2>&1 &
RUN_PID=$!
OURS+=("$RUN_PID")
wait_for 30 grep -q "task t1 passed" "$TMP/run2.log" || fail "second run over ssh: $(cat "$TMP/run2.log")"
id=$(running_id)
[[ -n $id ]] || fail "second run not RUNNING: $("$EMUCTL" "${R[@]}" runs 2>&1)"
for p in $(pgrep -P "$SSHD_PID"); do kill "$p"; done  # the connection drops
set +e
wait "$RUN_PID"
rc=$?
set -e
grep -q "SSH connection to root@$GW was lost" "$TMP/run2.log" ||
  fail "dropped connection during run not named: $(cat "$TMP/run2.log")"
# The run went on meanwhile, and emuctl run logged in again and followed it
# to its end by itself.
[[ $rc -eq 0 ]] || fail "run did not follow its run again after the drop: exit $rc: $(cat "$TMP/run2.log")"
grep -q "task t3 passed" "$TMP/run2.log" || fail "run lacks t3 after the drop: $(cat "$TMP/run2.log")"
# runs --follow over ssh replays it too.
"$EMUCTL" "${R[@]}" runs --follow "$id" >"$TMP/follow.log" 2>&1 ||
  fail "runs --follow over ssh: $(cat "$TMP/follow.log")"
grep -q "task t3 passed" "$TMP/follow.log" || fail "--follow lacks t3: $(cat "$TMP/follow.log")"
[[ $(run_state "$id") == SUCCEEDED ]] || fail "run $id did not succeed: $("$EMUCTL" "${R[@]}" runs 2>&1)"

# ---- A dropped SSH connection in the middle of a stream. ------------------
DROP_TAG=$(( $$ % 100000 ))
"$EMUCTL" "${S[@]}" exec "lab$ID" a -- sleep "30.$DROP_TAG" \
  >"$TMP/drop.out" 2>&1 &
EXEC_PID=$!
OURS+=("$EXEC_PID")
# The command running (the host sees every node's processes) means the
# exec stream is open through the tunnel.
wait_for 15 pgrep -f "^sleep 30\.${DROP_TAG}\$" || fail "exec over ssh did not start: $(cat "$TMP/drop.out")"
for p in $(pgrep -P "$SSHD_PID"); do kill "$p"; done
set +e
wait "$EXEC_PID"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "exec survived a dropped connection"
grep -q "SSH connection to root@$GW was lost" "$TMP/drop.out" ||
  fail "dropped connection not named: $(cat "$TMP/drop.out")"

# ---- sshd gone: a clear error naming the gateway. -------------------------
kill "$SSHD_PID"
wait "$SSHD_PID" 2>/dev/null || true
SSHD_PID=
if "$EMUCTL" --ssh "root@$GW" --ssh-target "unix:$TMP/run/controller.sock" \
    --token-file "$TMP/ctl/token" hosts >"$TMP/gone.out" 2>&1; then
  fail "hosts through a gateway without sshd succeeded"
fi
grep -q "ssh to root@$GW exited before the tunnel" "$TMP/gone.out" ||
  fail "no clear error without sshd: $(cat "$TMP/gone.out")"

# Nothing of emuctl's is left: no ssh child, no master (it ended with the
# connection), no tunnel directory.
if pgrep -f -- "-L $TMP/emuctl-ssh-" >/dev/null; then fail "an ssh tunnel was left running"; fi
if pgrep -f -- "ControlPath=$TMP/emu-ssh/" >/dev/null; then fail "an ssh master was left running"; fi
left=$(ls -d "$TMP"/emuctl-ssh-* 2>/dev/null || true)
[[ -z $left ]] || fail "tunnel directories left: $left"

"$EMUCTL" "${DIRECT[@]}" --token-file "$TMP/ctl/token" down "lab$ID" >/dev/null
echo "ssh_test: all checks passed"
