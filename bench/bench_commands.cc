#include "bench/bench_commands.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

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

IperfFigures Iperf3(const std::string& server, const std::string& client,
                    const std::string& server_ip, int seconds, bool udp64) {
  return Iperf3With(
      server,
      [&client](const std::vector<std::string>& argv, absl::Duration timeout) {
        return Run(client, argv, timeout);
      },
      server_ip, seconds, udp64);
}

IperfFigures Iperf3With(const std::string& server, const ClientRunner& run_client,
                        const std::string& server_ip, int seconds, bool udp64) {
  IperfFigures f;
  const std::vector<std::string> serve = {"iperf3", "-s", "-1", "-D", "-B",
                                          server_ip};
  if (!Ok(Run(server, serve), "iperf3 -s")) return f;
  std::vector<std::string> argv = {"iperf3", "-c", server_ip, "-t",
                                   absl::StrCat(seconds), "-J"};
  if (udp64) {
    for (const char* a : {"-u", "-l", "64", "-b", "0"}) argv.push_back(a);
  }
  absl::StatusOr<ProcessResult> r;
  // The daemon takes a moment to listen.
  for (int attempt = 0; attempt < 50; ++attempt) {
    r = run_client(argv, absl::Seconds(seconds + 30));
    // iperf3 -J can exit 0 with an "error" (connection refused while the
    // daemon is not listening yet): tried again, with the one-shot daemon
    // started again in case it was gone (the previous run's, still ending,
    // held the port when ours started; a second one exits: port taken).
    if (r.ok() && r->exit_code == 0 &&
        r->stdout_data.find("\"error\"") == std::string::npos) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
    if (attempt % 5 == 4) Run(server, serve).IgnoreError();
  }
  if (!Ok(r, "iperf3 -c")) return f;
  return ParseIperf3Json(r->stdout_data, udp64, server_ip);
}

IperfFigures ParseIperf3Json(const std::string& json, bool udp64,
                             const std::string& server_ip) {
  IperfFigures f;
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded()) {
    std::fprintf(stderr, "iperf3 output is not JSON\n");
    return f;
  }
  const char* key = udp64 ? "sum" : "sum_received";
  if (!doc.contains("end") || !doc["end"].is_object() ||
      !doc["end"].contains(key) || !doc["end"][key].is_object()) {
    std::fprintf(stderr, "iperf3 -c %s: no result: %s\n", server_ip.c_str(),
                 doc.value("error", std::string("(no end.")).c_str());
    return f;
  }
  const auto& sum = doc["end"][key];
  if (udp64) {
    double secs = sum.value("seconds", 0.0);
    f.udp_pps = secs > 0 ? (sum.value("packets", 0.0) -
                            sum.value("lost_packets", 0.0)) / secs
                         : 0;
  } else {
    f.tcp_bps = sum.value("bits_per_second", 0.0);
  }
  return f;
}

std::string LoadAverage() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "?";
  char buf[64] = {};
  if (std::fgets(buf, sizeof(buf), f) == nullptr) buf[0] = 0;
  std::fclose(f);
  std::string s(buf);
  return s.substr(0, s.find(' '));
}

}  // namespace emu::bench
