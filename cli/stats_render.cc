#include "cli/stats_render.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"
#include "cli/table.h"

namespace emu::cli {

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  if (unit == 0) return absl::StrCat(bytes, "B");
  return v < 10 ? absl::StrFormat("%.1f%s", v, kUnits[unit])
                : absl::StrFormat("%.0f%s", v, kUnits[unit]);
}

std::string FormatLate(const emu::v1::DirectionCounters& d) {
  // Only the engine and a tunnel's egress pipeline know their departures.
  if (!absl::StrContains(d.carrier(), "engine")) return "-";
  if (d.late_1ms_packets() == 0) return "0";
  return absl::StrFormat("%d (max %.1fms)", d.late_1ms_packets(),
                         d.late_max_us() / 1e3);
}

std::string RenderLabCounters(const emu::v1::LabCounters& c, bool rated) {
  Table links({"FROM", "TO", "SENT", "DELIVERED", "DROPPED", "BACKLOG", "LATE",
               "RATE", "CARRIER"});
  auto row = [&](const emu::v1::DirectionCounters& d) {
    links.AddRow(
        {d.from(), d.to(),
         absl::StrCat(d.sent_packets(), "p/", FormatBytes(d.sent_bytes())),
         absl::StrCat(d.delivered_packets(), "p/",
                      FormatBytes(d.delivered_bytes())),
         absl::StrCat(d.dropped_packets()),
         absl::StrCat(d.backlog_packets(), "p/",
                      FormatBytes(d.backlog_bytes())),
         FormatLate(d),
         rated ? absl::StrCat(
                     // FormatRate says "-" for 0 (no rate limit); a measured
                     // 0 is said as such.
                     d.rate_bits_per_second() < 1
                         ? std::string("0bit/s")
                         : FormatRate(
                               static_cast<uint64_t>(d.rate_bits_per_second())),
                     " ",
                     static_cast<uint64_t>(d.rate_packets_per_second() + 0.5),
                     "p/s")
               : "-",
         d.carrier()});
  };
  for (const auto& l : c.links()) {
    row(l.a_to_b());
    row(l.b_to_a());
  }
  Table nodes({"NODE", "HOST", "PROCS", "CPU", "CPU%", "MEMORY"});
  for (const auto& n : c.nodes()) {
    nodes.AddRow({n.node(), n.host(), absl::StrCat(n.processes()),
                  absl::StrFormat("%.2fs", n.cpu_seconds()),
                  rated ? absl::StrFormat("%.1f", n.cpu_percent()) : "-",
                  FormatBytes(n.memory_bytes())});
  }
  std::string out = links.Render();
  out += "\n";
  out += nodes.Render();
  for (const auto& p : c.problems()) absl::StrAppend(&out, "problem: ", p, "\n");
  return out;
}

}  // namespace emu::cli
