#!/usr/bin/env bash
# Runs the whole test suite: unit tests, then the integration tests against
# the real kernel (namespaces, veths, qdiscs, real daemons). Needs root.
# Extra arguments go to `bazel test` (e.g. --test_tag_filters=-integration).
set -euo pipefail

cd "$(dirname "$0")/.."
deploy/setup.sh
# Integration tests share the kernel; they run one at a time (tag
# "exclusive") and clean up after themselves.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
bazel test --noshow_progress //... "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log" || true)
echo "tests: $passed passed, $failed failed"
exit "$rc"
