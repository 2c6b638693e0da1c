#!/usr/bin/env bash
# Runs the whole test suite: unit tests, then the integration tests against
# the real kernel (namespaces, veths, qdiscs, real daemons); then the unit
# tests again under AddressSanitizer with LeakSanitizer (.bazelrc config
# asan; config tsan exists but is not in the suite yet); then fuzzes each
# libFuzzer target (//fuzz) for 25 s (deploy/fuzz.sh). Needs root. Fails if
# any run fails or a fuzz target crashes. Extra arguments go to every `bazel test` (e.g.
# --test_tag_filters=-integration).
set -euo pipefail

cd "$(dirname "$0")/.."
EMU_TEST_PACKAGES=1 deploy/setup.sh
# Integration tests share the kernel; they run one at a time (tag
# "exclusive") and clean up after themselves.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
# run NAME BAZEL_ARGS...: one `bazel test`, its summary line, its time.
run() {
  local name=$1 start=$SECONDS
  shift
  set +e
  bazel test --noshow_progress "$@" 2>&1 | tee "$log"
  local r=${PIPESTATUS[0]}
  set -e
  local passed failed
  passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
  failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log" || true)
  echo "tests ($name): $passed passed, $failed failed, $((SECONDS - start)) s"
  ((r == 0)) || rc=$r
}
run all //... "$@"
run asan --config=asan --build_tests_only --test_tag_filters=-integration //... "$@"
# TSAN (`--config=tsan`) is not part of the suite yet: see docs/building.md.
fuzz_start=$SECONDS
if deploy/fuzz.sh -t 25; then
  echo "fuzz: 5 targets, no crash, $((SECONDS - fuzz_start)) s"
else
  echo "fuzz: a target crashed or did not build, $((SECONDS - fuzz_start)) s"
  rc=1
fi
exit "$rc"
