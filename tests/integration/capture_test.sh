#!/usr/bin/env bash
# emuctl capture (issue 12): a known ping appears in the pcapng, read back
# by tshark, on a veth end, a userspace-engine TAP and a cross-host tunnel's
# TAP; -c N stops after N frames; a BPF filter filters; -w - streams to a
# pipe; a bad filter or interface is refused naming it; Ctrl-C and kill -9
# of emuctl end the agent's capture (no packet socket left in the node).
# Needs root; touches only names with its own cluster id.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test cp
ns() { echo "emu.$ID-$1.cap.$2"; }
command -v tshark >/dev/null || fail "tshark is not installed (deploy/setup.sh)"
# tshark refuses to run as root without this (it reads a file only).
export WIRESHARK_RUN_FROM_BUILD_DIRECTORY=1

cat >"$TMP/cap.yaml" <<YAML
name: cap
topology:
  nodes:
    a:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.77.0.1/24]}
        eth2: {addresses: [10.77.1.1/24]}
        eth3: {addresses: [10.77.2.1/24]}
    b:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.77.0.2/24]}
    e:
      host: $ID-h1
      interfaces:
        eth1: {addresses: [10.77.1.2/24]}
    x:
      host: $ID-h2
      interfaces:
        eth1: {addresses: [10.77.2.2/24]}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["a:eth2", "e:eth1"]
      delay: 2ms
      engine: userspace
    - endpoints: ["a:eth3", "x:eth1"]
YAML

"$EMUCTL" local start --name "$ID" --hosts 2 --subnet 198.18.221.0/24 >"$TMP/start.log"
"$EMUCTL" up "$TMP/cap.yaml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"

# Packet sockets open in a node's namespace (a capture holds one).
packet_sockets() { ip netns exec "$1" cat /proc/net/packet | tail -n +2 | wc -l; }
no_packet_sockets() { [[ $(packet_sockets "$1") -eq 0 ]]; }
started() { grep -q "capturing on" "$1"; }

# capture_ping NAME TARGET NODE-NS ADDR: captures 4 ICMP frames (-c 4) on
# TARGET while NODE-NS pings ADDR twice; the file is $TMP/NAME.pcapng.
capture_ping() {
  local name=$1 target=$2 from=$3 addr=$4
  "$EMUCTL" capture cap "$target" -w "$TMP/$name.pcapng" -c 4 -f icmp \
    2>"$TMP/$name.err" &
  local pid=$!
  BG_PIDS+=("$pid")
  wait_for 20 started "$TMP/$name.err" || fail "$name: not started: $(cat "$TMP/$name.err")"
  ip netns exec "$from" ping -c 2 -i 0.2 -W 2 "$addr" >"$TMP/$name.ping" ||
    fail "$name: ping $addr: $(cat "$TMP/$name.ping")"
  # -c 4 ends the capture by itself.
  local rc=0
  wait_for 20 bash -c "! kill -0 $pid 2>/dev/null" || fail "$name: -c 4 did not end emuctl"
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "$name: emuctl exited $rc: $(cat "$TMP/$name.err")"
  grep -q "4 packets captured" "$TMP/$name.err" ||
    fail "$name: summary: $(cat "$TMP/$name.err")"
  tshark -r "$TMP/$name.pcapng" -T fields -e ip.src -e ip.dst -e icmp.type \
    >"$TMP/$name.txt" 2>"$TMP/$name.tshark" || fail "$name: tshark: $(cat "$TMP/$name.tshark")"
  [[ $(wc -l <"$TMP/$name.txt") -eq 4 ]] || fail "$name: frames: $(cat "$TMP/$name.txt")"
  [[ $(grep -c $'\t8$' "$TMP/$name.txt") -eq 2 ]] || fail "$name: echo requests: $(cat "$TMP/$name.txt")"
  [[ $(grep -c $'\t0$' "$TMP/$name.txt") -eq 2 ]] || fail "$name: echo replies: $(cat "$TMP/$name.txt")"
  grep -q "$addr" "$TMP/$name.txt" || fail "$name: $addr not in: $(cat "$TMP/$name.txt")"
  echo "$name: 4 ICMP frames of the ping to $addr on $target"
}

wait_for 10 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.77.0.2 || fail "a cannot reach b"
wait_for 20 ip netns exec "$(ns h1 a)" ping -c 1 -W 1 10.77.2.2 || fail "a cannot reach x"
capture_ping veth b:eth1 "$(ns h1 a)" 10.77.0.2
capture_ping engine e:eth1 "$(ns h1 a)" 10.77.1.2
capture_ping tunnel x:eth1 "$(ns h1 a)" 10.77.2.2

# A filter filters: only echo replies, while a ping sends requests too.
"$EMUCTL" capture cap a:eth1 -w - -c 3 -f 'icmp[icmptype] == icmp-echoreply' \
  2>"$TMP/filter.err" >"$TMP/filter.pcapng" &
pid=$!
BG_PIDS+=("$pid")
wait_for 20 started "$TMP/filter.err" || fail "filter: not started: $(cat "$TMP/filter.err")"
ip netns exec "$(ns h1 a)" ping -c 3 -i 0.2 -W 2 10.77.0.2 >/dev/null
wait "$pid" || fail "filter: emuctl failed: $(cat "$TMP/filter.err")"
types=$(tshark -r "$TMP/filter.pcapng" -T fields -e icmp.type | sort | uniq -c | xargs)
[[ $types == "3 0" ]] || fail "filter: icmp types captured: '$types' (want 3 replies only)"
echo "filter: 3 echo replies, no requests"

# -w - into a pipe that tshark reads as it comes.
("$EMUCTL" capture cap b:eth1 -w - -c 2 -f icmp 2>"$TMP/pipe.err" |
  tshark -r - -T fields -e icmp.type >"$TMP/pipe.txt" 2>/dev/null) &
pid=$!
BG_PIDS+=("$pid")
wait_for 20 started "$TMP/pipe.err" || fail "pipe: not started: $(cat "$TMP/pipe.err")"
ip netns exec "$(ns h1 a)" ping -c 1 -W 2 10.77.0.2 >/dev/null
wait "$pid" || fail "pipe: failed: $(cat "$TMP/pipe.err")"
[[ $(xargs <"$TMP/pipe.txt") == "8 0" ]] || fail "pipe: tshark read: $(cat "$TMP/pipe.txt")"
echo "pipe: emuctl capture -w - | tshark -r - read the ping"

# Bad input: named, exit 1, nothing left open.
if "$EMUCTL" capture cap a:eth1 -w "$TMP/bad.pcapng" -f 'icmp and and' 2>"$TMP/bad.err"; then
  fail "a bad filter was accepted"
fi
grep -q "filter 'icmp and and'" "$TMP/bad.err" || fail "bad filter: $(cat "$TMP/bad.err")"
if "$EMUCTL" capture cap a:eth9 -w "$TMP/bad.pcapng" 2>"$TMP/bad.err"; then
  fail "an unknown interface was accepted"
fi
grep -q "no interface eth9" "$TMP/bad.err" || fail "bad interface: $(cat "$TMP/bad.err")"
if "$EMUCTL" capture cap zz:eth1 -w "$TMP/bad.pcapng" 2>"$TMP/bad.err"; then
  fail "an unknown node was accepted"
fi
grep -q "node zz is not in lab" "$TMP/bad.err" || fail "bad node: $(cat "$TMP/bad.err")"
no_packet_sockets "$(ns h1 a)" || fail "a refused capture left a packet socket"

# Ctrl-C (SIGINT) and kill -9 of emuctl end the agent's capture: its packet
# socket in the node's namespace goes away.
for sig in INT KILL; do
  "$EMUCTL" capture cap a:eth1 -w "$TMP/sig.pcapng" 2>"$TMP/sig-$sig.err" &
  pid=$!
  BG_PIDS+=("$pid")
  wait_for 20 started "$TMP/sig-$sig.err" || fail "$sig: not started: $(cat "$TMP/sig-$sig.err")"
  [[ $(packet_sockets "$(ns h1 a)") -eq 1 ]] || fail "$sig: no packet socket while capturing"
  ip netns exec "$(ns h1 a)" ping -c 2 -i 0.2 -W 2 10.77.0.2 >/dev/null
  kill -s "$sig" "$pid"
  rc=0
  wait "$pid" || rc=$?
  if [[ $sig == INT ]]; then
    [[ $rc -eq 0 ]] || fail "Ctrl-C: emuctl exited $rc: $(cat "$TMP/sig-$sig.err")"
    grep -Eq "[0-9]+ packets captured .*0 packets dropped by emu" "$TMP/sig-$sig.err" ||
      fail "Ctrl-C: no summary: $(cat "$TMP/sig-$sig.err")"
    n=$(tshark -r "$TMP/sig.pcapng" -Y icmp 2>/dev/null | wc -l)
    (( n >= 4 )) || fail "Ctrl-C: $n ICMP frames in the file, want the ping's 4"
  fi
  wait_for 10 no_packet_sockets "$(ns h1 a)" ||
    fail "$sig: the agent's capture is still open: $(ip netns exec "$(ns h1 a)" cat /proc/net/packet)"
  echo "$sig of emuctl: the agent closed its capture"
done

"$EMUCTL" down cap >/dev/null
wait_for 30 "$EMUCTL" local stop --name "$ID" ||
  fail "local stop: $("$EMUCTL" local stop --name "$ID" 2>&1)"
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
