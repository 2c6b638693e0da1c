#include "cli/linktest_output.h"

#include <algorithm>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace emu::cli {
namespace {

// The number after `key` in `line` ("icmp_seq=" -> "12"), none if absent.
std::optional<double> NumberAfter(absl::string_view line,
                                  absl::string_view key) {
  size_t at = line.find(key);
  if (at == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = line.substr(at + key.size());
  size_t end = 0;
  while (end < rest.size() &&
         (std::isdigit(static_cast<unsigned char>(rest[end])) ||
          rest[end] == '.')) {
    ++end;
  }
  double v;
  if (end == 0 || !absl::SimpleAtod(rest.substr(0, end), &v)) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

std::vector<std::optional<double>> ParsePingReplies(absl::string_view output,
                                                    int count) {
  std::vector<std::optional<double>> rtt(std::max(count, 0));
  const bool one_based = output.find("icmp_seq=") != absl::string_view::npos;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    auto time = NumberAfter(line, "time=");
    auto seq = NumberAfter(line, one_based ? "icmp_seq=" : "seq=");
    if (!time || !seq) continue;
    int index = static_cast<int>(*seq) - (one_based ? 1 : 0);
    if (index < 0 || index >= count || rtt[index].has_value()) continue;
    rtt[index] = *time;
  }
  return rtt;
}

absl::StatusOr<double> ReceiverMedianBps(absl::string_view iperf3_json,
                                         bool server_side) {
  nlohmann::json j = nlohmann::json::parse(iperf3_json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("iperf3 printed no JSON report: ",
                     iperf3_json.substr(0, 200)));
  }
  if (j.contains("error") && j["error"].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("iperf3: ", j["error"].get<std::string>()));
  }
  if (server_side) {
    if (!j.contains("server_output_json") ||
        !j["server_output_json"].is_object()) {
      return absl::InvalidArgumentError(
          "iperf3's report has no server_output_json (--get-server-output "
          "with a --json server)");
    }
    j = nlohmann::json(j["server_output_json"]);
    if (j.contains("error") && j["error"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("iperf3 server: ", j["error"].get<std::string>()));
    }
  }
  std::vector<double> rates;
  if (j.contains("intervals") && j["intervals"].is_array()) {
    for (const auto& i : j["intervals"]) {
      if (i.contains("sum") && i["sum"].contains("bits_per_second") &&
          i["sum"]["bits_per_second"].is_number()) {
        rates.push_back(i["sum"]["bits_per_second"].get<double>());
      }
    }
  }
  if (rates.size() < 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "iperf3 reported ", rates.size(), " intervals; need at least 3"));
  }
  std::vector<double> middle(rates.begin() + 1, rates.end() - 1);
  std::sort(middle.begin(), middle.end());
  size_t n = middle.size();
  return n % 2 == 1 ? middle[n / 2] : (middle[n / 2 - 1] + middle[n / 2]) / 2;
}

std::string CompensationBaseSource(const CompensationFigures& c) {
  if (!c.base_source.empty()) return c.base_source;
  return c.cross_host ? "tunnel TCP min RTT/2" : "engine path probe";
}

std::string DescribeCompensation(const CompensationFigures& c) {
  if (!c.asked) return "";
  auto ms = [](uint64_t us) { return absl::StrFormat("%.3f ms", us / 1e3); };
  if (c.configured_us == 0) return "compensate: nothing to do (no delay)";
  if (!c.applied) {
    if (c.kernel) {
      return "compensate: asked, not applied (this direction is "
             "kernel-shaped; compensation needs the userspace engine)";
    }
    return c.cross_host
               ? "compensate: asked, not applied (no base measured to the "
                 "peer host yet: the tunnel is not connected, or its echo "
                 "found no idle round trip and its carrier, ssh, has no TCP "
                 "figure)"
               : "compensate: asked, not applied (the agent has not "
                 "measured the engine path's base)";
  }
  // The source is said where it is not the plain same-host engine path (a
  // tunnel's, or with a guest end's NIC added).
  const std::string source = CompensationBaseSource(c);
  return absl::StrCat("compensated: configured ", ms(c.configured_us),
                      " - base measured ", ms(c.base_us),
                      source != "engine path probe"
                          ? absl::StrCat(" (", source, ")")
                          : "",
                      " = engine delay ", ms(c.applied_us));
}

std::string DescribeLate(const linkemu::LateFigures& a_to_b,
                         const linkemu::LateFigures& b_to_a) {
  std::string out;
  for (const auto& [dir, f] :
       {std::pair{"a-to-b", &a_to_b}, std::pair{"b-to-a", &b_to_a}}) {
    if (f->late_1ms == 0) continue;
    absl::StrAppend(
        &out, out.empty() ? "" : "\n", dir, ": ", f->late_1ms, " frame",
        f->late_1ms == 1 ? "" : "s", " sent 1 ms or more late",
        f->late_10ms > 0
            ? absl::StrCat(" (", f->late_10ms, " of them 10 ms or more)")
            : "",
        " while pinged: the host did not run the sender in time",
        f->tunnel ? ", or the tunnel's connection held them back" : "",
        "; the figures include it");
  }
  return out;
}

}  // namespace emu::cli
