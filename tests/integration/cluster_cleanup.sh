# Sourced by the shell integration tests that run a local cluster: the one
# way they clean up (in their EXIT trap, whatever state the cluster is in)
# and check at the end that nothing of theirs is left (needs $EMUCTL), and
# the one way they wait for a condition with a deadline.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# CMD | has [GREP-OPTIONS] PATTERN: grep -q on all of CMD's output, read
# to its end first. `CMD | grep -q` under `set -o pipefail` fails when
# grep exits at the first match while CMD still writes (SIGPIPE, 141).
has() { local in; in=$(cat); grep -q "$@" <<<"$in"; }
# wait_for SECONDS CMD...: until CMD succeeds; fails after SECONDS.
wait_for() {
  local limit=$1; shift
  local start; start=$(now)
  while ! "$@" >/dev/null 2>&1; do
    awk -v a="$start" -v b="$(now)" -v l="$limit" 'BEGIN { exit !(b - a > l) }' &&
      return 1
    sleep 0.1
  done
}

# running PID: whether PID is a running process. One that has ended but is
# not yet reaped (a zombie) is not running: its parent waits for it when it
# will. After a kill -9 of its parent (an agent, the supervisor) that is the
# machine's init or Bazel's test wrapper, and some inits reap only every
# few seconds, so `kill -0` would still find it.
running() {
  local state
  state=$(stat_field "/proc/$1/stat" 1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
# stat_field FILE K: field K of a /proc/PID[/task/TID]/stat FILE, counted
# from the one after "(comm)" (1: state, 17: nice), whose spaces would
# shift a plain split; nothing when the process is gone.
stat_field() {
  sed 's/.*) //' "$1" 2>/dev/null | cut -d' ' -f"$2"
}

# Removes everything of cluster $1 as `emuctl local stop` does, whether its
# daemons are alive or not and whether cluster.json exists: labs, daemons
# (recorded or not), lab and host namespaces with their processes, links,
# state dir.
cluster_cleanup() {
  "$EMUCTL" local stop --name "$1" >/dev/null 2>&1 || true
}

# What of cluster $1 is on this machine, one line each; nothing = clean.
cluster_leftovers() {
  local id=$1
  ls /run/netns 2>/dev/null |
    grep -E "^(emu\.$id-h[0-9]+\.|emuhost-$id-h[0-9]+$)" | sed 's/^/namespace /' || true
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
    grep -E "^(emubr-$id|emuv-$id-[0-9]+)$" | sed 's/^/interface /' || true
  pgrep -af -- "/run/emu/$id/|--name $id --state-root" | sed 's/^/process /' || true
  if [ -e "/run/emu/$id" ]; then echo "state dir /run/emu/$id"; fi
}

# Fails naming what of cluster $1 is left.
check_nothing_left() {
  local left
  left=$(cluster_leftovers "$1")
  if [ -n "$left" ]; then
    printf 'FAIL: left behind by cluster %s:\n%s\n' "$1" "$left" >&2
    return 1
  fi
}

# On a failure the daemons' logs (the cluster's and the test's own *.log)
# are kept in bazel's test outputs (outputs.zip), which outlive TMP.
keep_logs() {
  local out=${TEST_UNDECLARED_OUTPUTS_DIR:-}
  [[ -n $out ]] || return 0
  mkdir -p "$out/logs"
  cp /run/emu/"${ID:-none}"/logs/*.log "${TMP:-/nonexistent}"/*.log "$out/logs/" 2>/dev/null || true
}
fail() { echo "FAIL: $*" >&2; keep_logs; exit 1; }

# The start of a test on a local cluster of its own: ID (prefix $1 and the
# pid), EMU_CLUSTER, TMP (the test's temporary directory), and a trap that
# stops the cluster and reports what it could not remove. A test that must
# clean up more sets its own EXIT trap and calls cluster_test_cleanup in it.
start_cluster_test() {
  ID=$1$(( $$ % 100000 ))
  export EMU_CLUSTER=/run/emu/$ID/cluster.json
  TMP=${TEST_TMPDIR:-$(mktemp -d)}
  # Background processes the test starts (pings, sleeps): add their pids;
  # cluster_test_cleanup ends them before the cluster.
  BG_PIDS=()
  trap cluster_test_cleanup EXIT
}
cluster_test_cleanup() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  cluster_cleanup "$ID"
  cluster_leftovers "$ID" | sed 's/^/left after cleanup: /' >&2
}

# iperf_goodput LAB SERVER CLIENT ADDR: the TCP goodput (Mbit/s) from
# CLIENT to SERVER's ADDR over 3 s; prints nothing when iperf3 never ran
# (the server gets 4 s to come up).
# A run without a result (the server not up yet, or cut short: no
# end.sum_received in its JSON) is tried again, with the one-shot server
# started again if it is gone (a second one exits: port taken).
iperf_goodput() {
  local out g _
  for _ in $(seq 20); do
    "$EMUCTL" exec "$1" "$2" -- iperf3 -s -1 -D >/dev/null 2>&1 || true
    if out=$("$EMUCTL" exec "$1" "$3" -- iperf3 -c "$4" -t 3 -J 2>/dev/null) &&
       g=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6)' <<<"$out" 2>/dev/null); then
      echo "$g"
      return
    fi
    sleep 0.2
  done
}

# within_5pct VALUE EXPECTED: succeeds when VALUE is EXPECTED +-5%.
within_5pct() {
  python3 -c "import sys; v=float('$1'); e=float('$2'); sys.exit(0 if abs(v-e) <= e*0.05 else 1)"
}
