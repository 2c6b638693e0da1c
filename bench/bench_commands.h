// Commands the benchmarks run (ip, iperf3), inside a namespace or not,
// with failures printed to stderr. For bench/ programs only.
#ifndef EMU_BENCH_BENCH_COMMANDS_H_
#define EMU_BENCH_BENCH_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/process_launcher.h"

namespace emu::bench {

// Runs `argv` in network namespace `netns` ("" = this one).
absl::StatusOr<ProcessResult> Run(const std::string& netns,
                                  std::vector<std::string> argv,
                                  absl::Duration timeout = absl::Seconds(60));

// True when `r` ran and exited 0; otherwise prints "what: why" to stderr.
bool Ok(const absl::StatusOr<ProcessResult>& r, const std::string& what);

// `ip ARGS...` in this namespace; false (and the error printed) on failure.
bool Ip(std::vector<std::string> args);

}  // namespace emu::bench

#endif  // EMU_BENCH_BENCH_COMMANDS_H_
