// Commands the benchmarks run (ip, iperf3), inside a namespace or not,
// with failures printed to stderr. For bench/ programs only.
#ifndef EMU_BENCH_BENCH_COMMANDS_H_
#define EMU_BENCH_BENCH_COMMANDS_H_

#include <functional>
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

// The same run with the client started by `run_client` (its argv: iperf3
// -c SERVER_IP -t SECONDS -J ...), e.g. inside a QEMU guest through its
// console; the server as above, in namespace `server`.
using ClientRunner = std::function<absl::StatusOr<ProcessResult>(
    const std::vector<std::string>& argv, absl::Duration timeout)>;
IperfFigures Iperf3With(const std::string& server, const ClientRunner& run_client,
                        const std::string& server_ip, int seconds, bool udp64);

// The figures of one `iperf3 -c ... -J` output; zeros (and why on stderr)
// when it holds no result.
IperfFigures ParseIperf3Json(const std::string& json, bool udp64,
                             const std::string& server_ip);

}  // namespace emu::bench

#endif  // EMU_BENCH_BENCH_COMMANDS_H_
