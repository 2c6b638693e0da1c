#!/usr/bin/env bash
# containerlab's `target: host` stage commands and its create/create-links
# stages (issue 12), with `emuctl up` as a user runs it, on 1-host local
# clusters. The file is containerlab's tests/01-smoke/stages.clab.yml (its
# four nodes, their waits, its host link) with its host command writing
# into this test's own directory, and one more host command that reads
# that file back, records the host's interfaces and removes it.
# Without --allow-host-commands: refused before anything is created,
# naming file:line, the node and the agent's missing flag. With it: a
# user who is not an administrator is refused the same way (naming the
# user); the cluster token deploys, every stage command runs in
# containerlab's order (create, create-links after the lab exists, one
# warning), the host commands ran in the emulated host's namespace (they
# see node3's host end n3eth1), and `down` leaves nothing.
# Needs root; touches only names with its own cluster ids and files in its
# own temporary directory.
set -euo pipefail

RUNFILES=${TEST_SRCDIR:-$0.runfiles}/emu
EMUCTL=$RUNFILES/cli/emuctl
source "$RUNFILES/tests/integration/cluster_cleanup.sh"
start_cluster_test c7h
# At most 7 characters: c7h and four digits.
ID=c7h$(( $$ % 10000 ))
export EMU_CLUSTER=/run/emu/$ID/cluster.json
OUT=$TMP/host-commands
mkdir -p "$OUT"

cat >"$TMP/host.clab.yml" <<YAML
name: c7stages
topology:
  defaults:
    kind: linux
    image: debian:bookworm-slim
  nodes:
    node1:
      stages:
        create:
          wait-for:
            - node: node2
              stage: create
        create-links:
          exec:
            - command: bash -c 'echo foo > $OUT/host-exec-test'
              phase: on-enter
              target: host
            - command: ls /sys/class/net/
              phase: on-enter
        configure:
          exec:
            - command: sh -c 'ip -o link show dev n3eth1 > $OUT/seen && cat $OUT/host-exec-test >> $OUT/seen && rm $OUT/host-exec-test'
              phase: on-exit
              target: host
    node2:
      stages:
        create:
          wait-for:
            - node: node3
              stage: create-links
    node3:
      stages:
        create:
          wait-for:
            - node: node4
              stage: healthy
          exec:
            - command: ls /sys/class/net/
              phase: on-exit
    node4:
      stages:
        create-links:
          exec:
            - command: uname -n
              phase: on-exit
        healthy:
          exec:
            - command: echo 'hey I am exiting healthy stage'
              phase: on-exit
  links:
    - endpoints: ["node1:eth1", "node2:eth1"]
    - endpoints: ["node1:eth3", "node4:eth3"]
    - endpoints: ["node2:eth2", "node4:eth2"]
    - endpoints: ["node3:eth1", "host:n3eth1"]
YAML
# The lines of the two host commands in the file.
LINE1=$(grep -n "echo foo" "$TMP/host.clab.yml" | cut -d: -f1)
LINE2=$(grep -n "ip -o link show" "$TMP/host.clab.yml" | cut -d: -f1)
no_lab_left() { ! ip netns list | has "c7stages"; }

# --- without the opt-in: refused, naming the agent's flag ---------------
"$EMUCTL" local start --name "$ID" --hosts 1 --subnet 198.18.196.0/24 >"$TMP/start.log"
if "$EMUCTL" up "$TMP/host.clab.yml" >"$TMP/off.log" 2>&1; then
  fail "a host command deployed on an agent without --allow_host_commands: $(cat "$TMP/off.log")"
fi
grep -q "host.clab.yml:$LINE1: node node1: stages.create-links on-enter exec \`bash -c 'echo foo > $OUT/host-exec-test'\` (target: host): the agent of host $ID-h1, where the node runs, was not started with --allow_host_commands" "$TMP/off.log" ||
  fail "no clear refusal without the opt-in: $(cat "$TMP/off.log")"
grep -q "host.clab.yml:$LINE2: node node1: stages.configure on-exit exec" "$TMP/off.log" ||
  fail "the second host command is not named: $(cat "$TMP/off.log")"
no_lab_left || fail "a refused deploy left namespaces: $(ip netns list | grep c7stages)"
[[ ! -e $OUT/host-exec-test ]] || fail "a refused host command ran"
echo "without --allow-host-commands: $(grep -m1 -o 'the agent of host [^,]*, where the node runs, was not started with --allow_host_commands' "$TMP/off.log")"
"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1

# --- with it: administrators only ----------------------------------------
"$EMUCTL" local start --name "$ID" --hosts 1 --subnet 198.18.197.0/24 \
  --allow-host-commands >"$TMP/start2.log"
"$EMUCTL" user add c7bob --save "$TMP/bob.token" >/dev/null 2>"$TMP/add.log" ||
  fail "user add: $(cat "$TMP/add.log")"
if "$EMUCTL" --token-file "$TMP/bob.token" up "$TMP/host.clab.yml" >"$TMP/bob.log" 2>&1; then
  fail "a user who is not an administrator deployed host commands"
fi
grep -q "host.clab.yml:$LINE1: node node1: stages.create-links on-enter exec .* (target: host): it would run as root on the node's host, outside every node: only an administrator may deploy it (the cluster token, or a user added with \`emuctl user add --admin\`), and c7bob is not one" "$TMP/bob.log" ||
  fail "no clear refusal for a user: $(cat "$TMP/bob.log")"
no_lab_left || fail "a refused deploy left namespaces"
[[ ! -e $OUT/host-exec-test ]] || fail "a refused host command ran"
echo "c7bob (not an administrator): refused"

# The cluster token: the administrator.
"$EMUCTL" up "$TMP/host.clab.yml" >"$TMP/up.log" 2>&1 || fail "up: $(cat "$TMP/up.log")"
[[ $(grep -c "run after the node's links exist" "$TMP/up.log") == 1 ]] ||
  fail "expected one warning about create/create-links: $(cat "$TMP/up.log")"
order=$(grep -oE "ran on .*" "$TMP/up.log")
expected="ran on node4 (stages.create-links on-exit): uname -n
ran on node4 (stages.healthy on-exit): echo 'hey I am exiting healthy stage'
ran on node3 (stages.create on-exit): ls /sys/class/net/
ran on host $ID-h1 for node1 (stages.create-links on-enter, target: host): bash -c 'echo foo > $OUT/host-exec-test'
ran on node1 (stages.create-links on-enter): ls /sys/class/net/
ran on host $ID-h1 for node1 (stages.configure on-exit, target: host): sh -c 'ip -o link show dev n3eth1 > $OUT/seen && cat $OUT/host-exec-test >> $OUT/seen && rm $OUT/host-exec-test'"
[ "$order" = "$expected" ] || fail "stage commands ran as
$order
and not as
$expected"
# In the emulated host's namespace: node3's host end is there (not in the
# machine's namespace, and in no node's).
grep -q "n3eth1@" "$OUT/seen" || fail "the host command did not see n3eth1: $(cat "$OUT/seen")"
grep -qx "foo" "$OUT/seen" || fail "the second host command did not read the first's file: $(cat "$OUT/seen")"
[[ ! -e $OUT/host-exec-test ]] || fail "the host command's file was not removed"
if ip -o link show dev n3eth1 >/dev/null 2>&1; then fail "n3eth1 is in the machine's namespace"; fi
echo "host commands: ran in emuhost-$ID-h1 in containerlab's order (6 stage commands), their file written, read and removed"
"$EMUCTL" down c7stages >/dev/null
no_lab_left || fail "namespaces left after down"
rm -f "$OUT/seen"; rmdir "$OUT"

"$EMUCTL" local stop --name "$ID" >/dev/null
check_nothing_left "$ID" || exit 1
trap - EXIT
echo PASS
