#!/usr/bin/env bash
# Fuzzes emu's parsers of untrusted input (//fuzz, docs/building.md
# "Fuzzing") with libFuzzer: builds the targets with `--config=fuzz` (clang
# 14, -fsanitize=fuzzer,address), then runs each for a fixed time, one after
# the other, starting from its seeds (fuzz/corpus/NAME, the inputs of crashes
# already fixed in fuzz/regressions/NAME, and the examples/ files), and
# prints its executions and coverage. deploy/test.sh runs it.
#
# usage: deploy/fuzz.sh [-t SECONDS_PER_TARGET] [TARGET...]   (default 25 s,
# every target). Exits 1 if a target crashed (an abort, a sanitizer report,
# a leak, an input slower than 10 s): the input is kept in
# /tmp/emu-fuzz-crashes/NAME/ and the log's end printed; replay it with
# `bazel run //fuzz:NAME -- FILE` (normal build) or the fuzz binary.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=25
if [[ ${1:-} == -t ]]; then
  seconds=$2
  shift 2
fi
all=(topology_parser_fuzzer experiment_spec_fuzzer tunnel_frame_fuzzer
  tunnel_handshake_fuzzer console_marker_fuzzer)
targets=("${@:-${all[@]}}")
# Seeds beyond fuzz/corpus/NAME.
declare -A extra_seeds=(
  [topology_parser_fuzzer]=examples
  [experiment_spec_fuzzer]=examples/experiments
)

labels=()
for t in "${targets[@]}"; do labels+=("//fuzz:$t"); done
set +e
# ld.gold (the auto-configured linker) warns about every ASAN helper
# symbol it cannot export: harmless, and hundreds of lines.
bazel build --config=fuzz --noshow_progress "${labels[@]}" 2>&1 |
  grep -v "warning: Cannot export local symbol '__asan"
built=${PIPESTATUS[0]}
set -e
if ((built != 0)); then
  echo "fuzz: build failed" >&2
  exit 1
fi
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)

work=$(mktemp -d /tmp/emu-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
for t in "${targets[@]}"; do
  seeds=("fuzz/corpus/$t")
  [[ -d fuzz/regressions/$t ]] && seeds+=("fuzz/regressions/$t")
  [[ -n ${extra_seeds[$t]:-} ]] && seeds+=("${extra_seeds[$t]}")
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  set +e
  # The first directory is the working corpus (new inputs go there, not
  # into the repository); the others are read-only seeds.
  "$bin/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
    "$work/$t/corpus" "${seeds[@]}" >"$work/$t/log" 2>&1
  r=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$work/$t/log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  if ((r == 0)); then
    echo "fuzz $t: ${execs:-?} executions in $seconds s, coverage ${cov:-?} edges, ${ft:-?} features, corpus ${corp:-?} inputs"
  else
    rc=1
    keep=/tmp/emu-fuzz-crashes/$t
    mkdir -p "$keep"
    cp "$work/$t/artifacts/"* "$keep/" 2>/dev/null || true
    echo "fuzz $t: FAILED (exit $r) after ${execs:-?} executions; inputs in $keep/:" >&2
    ls "$keep" >&2 || true
    tail -40 "$work/$t/log" >&2
  fi
done
exit "$rc"
