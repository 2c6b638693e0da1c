#include "bench/bench_commands.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_join.h"

namespace emu::bench {

absl::StatusOr<ProcessResult> Run(const std::string& netns,
                                  std::vector<std::string> argv,
                                  absl::Duration timeout) {
  static PosixProcessLauncher* const launcher = new PosixProcessLauncher();
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.netns = netns;
  spec.timeout = timeout;
  return launcher->Run(spec);
}

bool Ok(const absl::StatusOr<ProcessResult>& r, const std::string& what) {
  if (r.ok() && r->exit_code == 0) return true;
  std::fprintf(stderr, "%s: %s\n", what.c_str(),
               r.ok() ? r->stderr_data.c_str() : r.status().ToString().c_str());
  return false;
}

bool Ip(std::vector<std::string> args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Ok(Run("", argv), absl::StrJoin(argv, " "));
}

}  // namespace emu::bench
