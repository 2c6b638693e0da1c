#!/usr/bin/env bash
# A community network at course scale (issue 8, docs/community.md): USERS
# users (20), each with a NODES-node lab (10) whose router r0 is attached to
# one community switch, over HOSTS emulated hosts (4) of a local cluster.
# Measures:
#   1. the time for all USERS `emuctl up`s, run concurrently, each with its
#      own token (wall time from the first start to the last finish);
#   2. any-to-any reachability across the community: every user's r0 pings
#      every other user's r0 through the switch (USERS*(USERS-1) pairs);
#   3. the time for one user's `emuctl apply` adding one node.
# Goals (issue 8): all up within 10 s, 100 % reachability, apply within 1 s.
# Prints the load average with the figures. Root only; makes its own
# cluster and removes it. Run under the integration lock:
#
#   flock /tmp/emu-integration.lock bazel run //bench:community_bench
#   bazel run //bench:community_bench -- --users 10 --nodes 10 --hosts 4
set -euo pipefail

USERS=20 NODES=10 HOSTS=4
while [[ $# -gt 0 ]]; do
  case $1 in
    --users) USERS=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    *) echo "usage: $0 [--users N] [--nodes N] [--hosts H]" >&2; exit 2 ;;
  esac
done
((USERS >= 2 && USERS <= 250 && NODES >= 1)) || { echo "need 2..250 users and >= 1 node" >&2; exit 2; }
RUNFILES=${RUNFILES_DIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
ID=m$(( $$ % 100000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json
TMP=$(mktemp -d /tmp/emu-community-bench.XXXXXX)
trap '"$EMUCTL" local stop --name "$ID" >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
as() { local who=$1; shift; "$EMUCTL" --token-file "$TMP/$who.token" "$@"; }

"$EMUCTL" local start --name "$ID" --hosts "$HOSTS" --subnet 198.18.229.0/24 >"$TMP/start.log" 2>&1 ||
  { cat "$TMP/start.log"; exit 1; }
for ((u = 1; u <= USERS; u++)); do
  "$EMUCTL" user add "u$u" --save "$TMP/u$u.token" >/dev/null
done

# The exchange: the administrator's switch on h1, exported to all.
cat >"$TMP/exchange.yaml" <<YAML
name: exchange
community:
  export:
    - {name: ix, segment: sw, to: all}
topology:
  nodes:
    sw: {kind: switch, host: $ID-h1}
YAML
"$EMUCTL" up "$TMP/exchange.yaml" >"$TMP/up-exchange.log" 2>&1 || { cat "$TMP/up-exchange.log"; exit 1; }

# User u's lab: r0 (10.200.0.u/16 on the exchange) and a chain r0-r1-...,
# every link 100 Mbit/s (TBF). lab U EXTRA: EXTRA=1 adds one more node.
lab() {
  local u=$1 extra=$2
  echo "name: as$u"
  echo "topology:"
  echo "  nodes:"
  echo "    r0: {interfaces: {eth0: {addresses: [10.200.$((u / 250)).$((u % 250 + 1))/16]}}}"
  for ((i = 1; i < NODES; i++)); do echo "    r$i: {}"; done
  ((extra)) && echo "    added: {}"
  echo "  links:"
  echo "    - {endpoints: [\"r0:eth0\", \"community:admin/ix\"], rate: 100mbit}"
  for ((i = 1; i < NODES; i++)); do
    echo "    - {endpoints: [\"r$((i - 1)):e$i\", \"r$i:e0\"], rate: 100mbit}"
  done
  ((extra)) && echo "    - {endpoints: [\"r$((NODES - 1)):x0\", \"added:e0\"], rate: 100mbit}"
  return 0
}
for ((u = 1; u <= USERS; u++)); do
  lab "$u" 0 >"$TMP/as$u.yaml"
  lab "$u" 1 >"$TMP/as$u-plus1.yaml"
done

echo "community: $USERS users x $NODES-node labs attached to one switch, $HOSTS emulated hosts ($(nproc) cores)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# 1. All ups at once.
t0=$(now)
pids=()
for ((u = 1; u <= USERS; u++)); do
  ( s=$(now); as "u$u" up "$TMP/as$u.yaml" >"$TMP/up$u.log" 2>&1; rc=$?
    echo "$rc $(secs "$s" "$(now)")" >"$TMP/up$u.rc" ) &
  pids+=($!)
done
wait "${pids[@]}"
t1=$(now)
failed=0 slowest=0
for ((u = 1; u <= USERS; u++)); do
  read -r rc took <"$TMP/up$u.rc"
  if [[ $rc != 0 ]]; then failed=$((failed + 1)); echo "u$u up failed:"; tail -5 "$TMP/up$u.log"; fi
  slowest=$(awk -v a="$slowest" -v b="$took" 'BEGIN { print (b > a ? b : a) }')
done
echo "load average after up: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "up: $USERS labs ($((USERS * NODES)) nodes) concurrently in $(secs "$t0" "$t1") s (slowest up $slowest s), $failed failed (goal: 10 s)"
# Each `up` returns once its port is on the switch (the agent enslaves it
# before ApplyLab returns): a lab without one right here is a bug, named.
port_labs() {  # the lab keys owning a port of the exchange switch
  ip -n "emu.$ID-h1.exchange.sw" -d link show master emuseg |
    grep -oE 'alias emu lab=[^ ]+' | sed 's/.*lab=//' | sort -u
}
ports=$(port_labs | wc -l)
echo "ports on the exchange switch: $ports (one per lab)"
if ((ports < USERS)); then
  for ((u = 1; u <= USERS; u++)); do
    grep -qx "u$u+as$u" <<<"$(port_labs)" && continue
    echo "lab u$u/as$u has no port on the switch right after its up:"
    tail -3 "$TMP/up$u.log"
    as "u$u" status "as$u" | grep -E "^State|^Error|r0:eth0" || true
  done
  t=$(now)
  while (($(port_labs | wc -l) < USERS)) && (($(secs "$t" "$(now)" | cut -d. -f1) < 20)); do sleep 0.2; done
  echo "  ports after $(secs "$t" "$(now)") s more: $(port_labs | wc -l)"
fi

# 2. Any-to-any: each r0 pings every other r0 (one exec per user, in
# parallel; one ping each, 1 s timeout, one retry for ARP's first miss).
addrs=()
for ((u = 1; u <= USERS; u++)); do addrs+=("10.200.$((u / 250)).$((u % 250 + 1))"); done
t2=$(now)
pids=()
for ((u = 1; u <= USERS; u++)); do
  others=()
  for ((v = 1; v <= USERS; v++)); do
    if ((v != u)); then others+=("${addrs[v - 1]}"); fi
  done
  ( as "u$u" exec "as$u" r0 -- sh -c '
      for a in "$@"; do
        if ping -c 1 -W 1 "$a" >/dev/null 2>&1 || ping -c 1 -W 1 "$a" >/dev/null 2>&1
        then echo "ok $a"; else echo "FAIL $a"; fi
      done' sh "${others[@]}" >"$TMP/ping$u.out" 2>&1 || true ) &
  pids+=($!)
done
wait "${pids[@]}"
t3=$(now)
ok=$(cat "$TMP"/ping*.out | grep -c '^ok ' || true)
pairs=$((USERS * (USERS - 1)))
echo "reachability: $ok of $pairs pairs ($(awk -v a="$ok" -v b="$pairs" 'BEGIN { printf "%.1f", 100 * a / b }') %) in $(secs "$t2" "$t3") s (goal: 100 %)"
if ((ok < pairs)); then grep -h "FAIL\|rror" "$TMP"/ping*.out | sort | uniq -c | head -10; fi

# 3. One user's apply adding a node (then removing it again, timed too).
t4=$(now)
as u1 apply "$TMP/as1-plus1.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; exit 1; }
t5=$(now)
as u1 apply "$TMP/as1.yaml" >"$TMP/apply2.log" 2>&1 || { cat "$TMP/apply2.log"; exit 1; }
t6=$(now)
echo "apply: +1 node $(secs "$t4" "$t5") s, -1 node $(secs "$t5" "$t6") s (goal: 1 s)"
grep -E "changing|hosts:" "$TMP/apply.log" | head -2
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

for ((u = 1; u <= USERS; u++)); do as "u$u" down "as$u" >/dev/null 2>&1 & done
wait
"$EMUCTL" down exchange >/dev/null
