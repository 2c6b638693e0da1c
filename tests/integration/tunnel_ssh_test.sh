#!/usr/bin/env bash
# Cross-host links on the SSH carrier (issue 9): a local cluster of two
# emulated hosts started with `--tunnel-carrier ssh`, a real key-only sshd
# in each host's namespace (test_sshd.sh; host key pinned in known_hosts,
# strict checking), a lab across both. Checks: the tunnel listener is bound
# to loopback only and the link's bytes go over port 22; ping and shaped
# iperf3 goodput; killing the link's ssh process brings the link back
# within 10 s (a new ssh); down ends the ssh processes; stop + the trap
# leave no namespace, ssh or sshd. Needs root and openssh-server; ends only
# its own processes, by pid.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
source "$RUNFILES/tests/integration/test_sshd.sh"
start_cluster_test v
SUBNET=198.18.238
SSHDS=()  # sshd pids, one per host
cleanup() {
  cluster_test_cleanup
  for SSHD_PID in "${SSHDS[@]}"; do stop_test_sshd; done
}
trap cleanup EXIT

# ---- The cluster: agents on the ssh carrier with the test's ssh_config. --
CONF=$TMP/agents_ssh_config
"$EMUCTL" local start --name "$ID" --hosts 2 --subnet "$SUBNET.0/24" \
  --tunnel-carrier ssh --tunnel-ssh-config "$CONF" >"$TMP/start.log" 2>&1 ||
  fail "local start: $(cat "$TMP/start.log")"
LOG1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hosts"][0]["log"])' "$EMU_CLUSTER")
grep -q "listening on 127.0.0.1:7472, carrier ssh" "$LOG1" ||
  fail "agent h1 does not say it uses the ssh carrier: $(grep tunnels "$LOG1")"

# ---- An sshd in each host's namespace, each taking both hosts' keys. -----
for h in 1 2; do
  mkdir -p "$TMP/sshd$h"
  start_test_sshd "emuhost-$ID-h$h" "$SUBNET.1$h" "$TMP/sshd$h" 1
  SSHDS+=("$SSHD_PID")
done
cat "$TMP/sshd1/id.pub" >>"$TMP/sshd2/authorized_keys"
cat "$TMP/sshd2/id.pub" >>"$TMP/sshd1/authorized_keys"
: >"$TMP/known_hosts"
for h in 1 2; do
  echo "$SUBNET.1$h $(cut -d' ' -f1,2 "$TMP/sshd$h/hostkey.pub")" >>"$TMP/known_hosts"
done
# What an operator would write: the cluster's key, the hosts' keys pinned.
cat >"$CONF" <<CONF
Host *
  User root
  IdentityFile $TMP/sshd1/id
  IdentityFile $TMP/sshd2/id
  IdentitiesOnly yes
  UserKnownHostsFile $TMP/known_hosts
  StrictHostKeyChecking yes
CONF

cat >"$TMP/lab.yaml" <<YAML
name: sshlab$ID
topology:
  nodes:
    a:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.78.1.1/24]}
    b:
      host: $ID-h2
      interfaces:
        eth1: {addresses: [10.78.1.2/24]}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      rate: 50mbit
YAML
LAB=sshlab$ID
"$EMUCTL" up "$TMP/lab.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
wait_for 20 "$EMUCTL" exec "$LAB" b -- ping -c 1 -W 1 10.78.1.1 ||
  fail "b cannot reach a over the ssh carrier: $(grep -h tunnel "$LOG1" | tail -5)"
"$EMUCTL" exec "$LAB" b -- ping -c 3 -W 2 10.78.1.1 >/dev/null || fail "ping b->a"

# The listener takes loopback only; the link's bytes cross on port 22.
listen=$(ip netns exec "emuhost-$ID-h1" ss -Htln 'sport = :7472' | awk '{print $4}')
[[ $listen == 127.0.0.1:7472 ]] || fail "h1's tunnel listener is on '$listen', want 127.0.0.1:7472"
n=$(ip netns exec "emuhost-$ID-h2" ss -Htn state established "( dst $SUBNET.11 and dport = :22 )" | wc -l)
[[ $n -ge 1 ]] || fail "no ssh connection from h2 to h1"
n=$(ip netns exec "emuhost-$ID-h2" ss -Htn state established '( dport = :7472 )' | wc -l)
[[ $n -eq 0 ]] || fail "h2 has $n direct tunnel connections, want none"

# h2 dials (h1 < h2): its agent owns one ssh for the link.
agent2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hosts"][1]["pid"])' "$EMU_CLUSTER")
ssh_of_agent() { pgrep -P "$agent2" -x ssh || true; }
ssh1=$(ssh_of_agent)
[[ $(wc -w <<<"$ssh1") -eq 1 ]] || fail "agent h2 runs ssh processes '$ssh1', want one"
tr '\0' ' ' <"/proc/$ssh1/cmdline" | has -- "-W 127.0.0.1:7472 -- $SUBNET.11" ||
  fail "ssh command line: $(tr '\0' ' ' <"/proc/$ssh1/cmdline")"

# The 50 Mbit/s link shapes across the carrier: 50 x 1448/1514 = 47.82.
# Never more than 5% above; up to 15% below: each direction crosses two
# more processes (ssh, sshd) than on the TCP carriers, whose scheduling on
# a loaded 2-core machine adds to the RTT, so the 3 s run's slow start and
# TBF's queue cost more (measured 43.2-46.6 in 5 runs at load average
# 8.5-12; the plain/TLS carriers pass within 5% in tunnel_emuctl_test).
mbps=$(iperf_goodput "$LAB" a b 10.78.1.1)
[[ -n $mbps ]] || fail "iperf3 b->a did not run"
echo "b->a over the ssh carrier, 50mbit link: $mbps Mbit/s (load $(cut -d' ' -f1 /proc/loadavg))"
python3 -c "import sys; sys.exit(0 if 0.85 * 47.82 <= $mbps <= 1.05 * 47.82 else 1)" ||
  fail "goodput $mbps Mbit/s, want 40.6-50.2 (47.8 -15%/+5%)"

# Kill the link's ssh: a new one carries the link again within 10 s.
t0=$(now)
kill -9 "$ssh1"
new_ssh() { local p; p=$(ssh_of_agent); [[ -n $p && $p != "$ssh1" ]]; }
wait_for 10 new_ssh || fail "no new ssh 10 s after killing $ssh1"
wait_for 10 "$EMUCTL" exec "$LAB" b -- ping -c 1 -W 1 10.78.1.1 ||
  fail "the link did not come back after its ssh was killed"
echo "link back $(elapsed "$t0") s after its ssh was killed"
awk -v e="$(elapsed "$t0")" 'BEGIN { exit !(e <= 10) }' || fail "recovery took over 10 s"
kill -0 "$ssh1" 2>/dev/null && fail "the killed ssh $ssh1 was not reaped"

"$EMUCTL" down "$LAB" >/dev/null
wait_for 5 test -z "$(ssh_of_agent)" || fail "ssh left after down: $(ssh_of_agent)"
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
for SSHD_PID in "${SSHDS[@]}"; do stop_test_sshd; done
SSHDS=()
if pgrep -f -- "$TMP/" >/dev/null; then fail "left running: $(pgrep -af -- "$TMP/")"; fi
trap - EXIT
echo PASS
