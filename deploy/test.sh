#!/usr/bin/env bash
# Runs the whole test suite: unit tests, then the integration tests against
# the real kernel (namespaces, veths, qdiscs, real daemons). Needs root.
set -euo pipefail

cd "$(dirname "$0")/.."
deploy/setup.sh
# Integration tests share the kernel; they run one at a time (tag
# "exclusive") and clean up after themselves.
bazel test --noshow_progress //... "$@"
