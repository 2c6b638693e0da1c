#!/usr/bin/env bash
# The cost of going through SSH and TLS (issue 9), side by side in one run:
#  1. `emuctl status LAB` and `emuctl exec LAB NODE -- true` latency, direct
#     (the controller's unix socket) and over `emuctl --ssh` through a real
#     sshd (Debian's openssh-server, key authentication) in a namespace of
#     its own, interleaved so both see the same load. The controller speaks
#     mutual TLS both ways; over SSH the token and the CA come from local
#     files (as with a saved remote), and the shared SSH login
#     (ControlMaster) is warmed by one call first, as it is after a user's
#     first verb. Prints p50/p90/mean per command and path.
#  2. The tunnel carrier between two emulated hosts, plain vs TLS vs SSH
#     (bench/carrier_bench: TCP goodput and 64-byte UDP packets received,
#     with veth and kernel VXLAN as references).
# Prints the load average before and after. Root only; ends only what it
# started, by pid. Run it alone (under the integration lock on a shared
# machine):
#
#   bazel build -c opt //bench:remote_bench
#   flock /tmp/emu-integration.lock bazel-bin/bench/remote_bench --runs 50
#
# --runs N: timed calls per command and path (50); --seconds S: seconds per
# iperf3 run of the carriers (5); --no-carriers: the latency part only.
set -euo pipefail

RUNS=50
SECONDS_PER_RUN=5
CARRIERS=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --no-carriers) CARRIERS=0; shift ;;
    *) echo "usage: $0 [--runs N] [--seconds S] [--no-carriers]" >&2; exit 2 ;;
  esac
done
echo "remote_bench: load average at the start $(cut -d' ' -f1-3 /proc/loadavg)"
# carrier_bench finds emu-agent through RUNFILES_DIR (tests/integration/
# daemons.cc RunfilePath): this script's tree holds it.
export RUNFILES_DIR=${RUNFILES_DIR:-$0.runfiles}
RUNFILES=$RUNFILES_DIR/emu
EMUCTL=$RUNFILES/cli/emuctl
AGENT=$RUNFILES/agent/emu-agent
CONTROLLER=$RUNFILES/controller/emu-controller
CARRIER_BENCH=$RUNFILES/bench/carrier_bench
wait_for() {
  local t=$1; shift
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [[ $SECONDS -ge $end ]] && return 1
    sleep 0.1
  done
}
source "$RUNFILES/tests/integration/test_sshd.sh"
ID=r$(( $$ % 100000 ))
HOST=${ID}h1
NS=emurb-$ID
VETH=emurbv-$ID
GW=198.19.251.2
TMP=$(mktemp -d /tmp/emu-rbench.XXXXXX)
OURS=()
cleanup() {
  [[ -n ${DIRECT+x} ]] && "$EMUCTL" "${DIRECT[@]}" down "lab$ID" >/dev/null 2>&1 || true
  if [[ -n ${SSH_CONFIG:-} ]]; then
    p=$(ssh -F "$SSH_CONFIG" -o ControlPath="$TMP/emu-ssh/cm-%C" -O check "root@$GW" 2>&1 |
        sed -n 's/^Master running (pid=\([0-9]*\)).*/\1/p' || true)
    [[ -n $p ]] && kill "$p" 2>/dev/null || true
  fi
  stop_test_sshd
  for p in "${OURS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${OURS[@]}"; do wait "$p" 2>/dev/null || true; done
  for n in $(ls /run/netns 2>/dev/null | grep -E "^emu\.$HOST\." || true); do
    ip netns del "$n" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$VETH" 2>/dev/null || true
  rm -rf "$TMP"
  OURS=()
  SSH_CONFIG=
}
trap cleanup EXIT

ip netns add "$NS"
ip link add "$VETH" type veth peer name eth0 netns "$NS"
ip addr add 198.19.251.1/30 dev "$VETH"
ip link set "$VETH" up
ip -n "$NS" addr add "$GW/30" dev eth0
ip -n "$NS" link set eth0 up
ip -n "$NS" link set lo up
start_test_sshd "$NS" "$GW" "$TMP"
export EMU_SSH_OPTS="-F $SSH_CONFIG"
export XDG_RUNTIME_DIR=$TMP
unset EMU_CLUSTER EMU_SSH EMU_SSH_PERSIST

"$EMUCTL" cluster init --dir "$TMP/pki" >/dev/null
"$EMUCTL" cluster cert --dir "$TMP/pki" "$HOST" --san 127.0.0.1 >/dev/null
"$CONTROLLER" --listen="unix:$TMP/run/controller.sock" --db="$TMP/ctl/labs.db" \
  --pki_dir="$TMP/pki" >"$TMP/controller.log" 2>&1 &
OURS+=($!)
wait_for 10 test -S "$TMP/run/controller.sock"
"$AGENT" --listen=127.0.0.1:0 --port_file="$TMP/agent.port" --host_name="$HOST" \
  --state_dir="$TMP/agent" --token_file="$TMP/ctl/token" --tunnel_listen=none \
  --pki_dir="$TMP/pki" --controller="unix:$TMP/run/controller.sock" \
  >"$TMP/agent.log" 2>&1 &
OURS+=($!)
AUTH=(--token-file "$TMP/ctl/token" --ca-file "$TMP/pki/ca.crt")
DIRECT=(--controller "unix:$TMP/run/controller.sock" "${AUTH[@]}")
SSHV=(--ssh "root@$GW" --ssh-target "unix:$TMP/run/controller.sock" "${AUTH[@]}")
wait_for 15 bash -c "\"$EMUCTL\" ${DIRECT[*]@Q} hosts | grep -qE '^$HOST .* yes '"
cat >"$TMP/lab.yaml" <<YAML
name: lab$ID
topology:
  nodes:
    a: {host: $HOST}
YAML
"$EMUCTL" "${DIRECT[@]}" up "$TMP/lab.yaml" >/dev/null
"$EMUCTL" "${SSHV[@]}" status "lab$ID" >/dev/null  # warms the shared login

# One timed call: milliseconds with three decimals, appended to FILE.
timed() {
  local file=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  "$EMUCTL" "$@" >/dev/null
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 ))" >>"$file"
}
for ((i = 0; i < RUNS; i++)); do
  timed "$TMP/status.direct" "${DIRECT[@]}" status "lab$ID"
  timed "$TMP/status.ssh" "${SSHV[@]}" status "lab$ID"
  timed "$TMP/exec.direct" "${DIRECT[@]}" exec "lab$ID" a -- true
  timed "$TMP/exec.ssh" "${SSHV[@]}" exec "lab$ID" a -- true
done
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
# p50, p90 and mean of one file of microseconds, in ms.
stats() {
  sort -n "$1" | awk '{v[NR]=$1; s+=$1} END {
    p50=v[int((NR+1)*0.5)]; p90=v[int(NR*0.9+0.5)];
    printf "%8.2f %8.2f %8.2f", p50/1000, p90/1000, s/NR/1000 }'
}
p50() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)*0.5)]}'; }
echo "remote_bench: $RUNS runs each, interleaved; load average $LOAD"
printf "%-22s %-8s %8s %8s %8s\n" COMMAND PATH "p50 ms" "p90 ms" "mean ms"
for c in status exec; do
  for p in direct ssh; do
    label="emuctl $c"; [[ $c == exec ]] && label="emuctl exec -- true"
    printf "%-22s %-8s %s\n" "$label" "$p" "$(stats "$TMP/$c.$p")"
  done
  d=$(p50 "$TMP/$c.direct"); s=$(p50 "$TMP/$c.ssh")
  awk -v d="$d" -v s="$s" -v c="$c" 'BEGIN {
    printf "%-22s ssh - direct at p50: %+.2f ms (goal: within 5 ms)\n", c, (s-d)/1000 }'
done
# The latency part's daemons, lab and sshd go before the carriers run.
cleanup
trap - EXIT

if [[ $CARRIERS == 1 ]]; then
  echo
  echo "tunnel carrier, plain vs TLS vs SSH ($SECONDS_PER_RUN s per iperf3 run):"
  "$CARRIER_BENCH" --seconds="$SECONDS_PER_RUN" --carriers=plain,tls,ssh
fi
echo "remote_bench: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
