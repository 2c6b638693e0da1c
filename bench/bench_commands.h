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

// One iperf3 run from namespace `client` to `server_ip`, served (one test,
// daemonised, bound to server_ip) in namespace `server`: TCP goodput of one
// stream, or with `udp64` 64-byte UDP at full speed (-u -l 64 -b 0),
// reported as packets per second received. Zeros when a run failed.
struct IperfFigures {
  double tcp_bps = 0;
  double udp_pps = 0;
};
// The 1-minute load average ("?" if unreadable): figures taken on a busy
// host say so.
std::string LoadAverage();

IperfFigures Iperf3(const std::string& server, const std::string& client,
                    const std::string& server_ip, int seconds, bool udp64);

}  // namespace emu::bench

#endif  // EMU_BENCH_BENCH_COMMANDS_H_
