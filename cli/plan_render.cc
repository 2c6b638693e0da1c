#include "cli/plan_render.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"
#include "cli/table.h"

namespace emu::cli {
namespace {

// CPUs from milli-CPUs, shortest exact form: "2", "1.1", "0.002".
std::string Cpus(uint64_t milli) {
  std::string s = absl::StrFormat("%.3f", milli / 1000.0);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string Strategy(const v1::PlacementOptions& o) {
  if (o.strategy() == v1::PlacementOptions::PACK) return "pack";
  return absl::StrCat("spread, tolerance ",
                      FormatPercent(o.tolerance_percent()));
}

}  // namespace

std::string RenderPlan(const v1::PlanLabResponse& plan) {
  std::string out;
  uint64_t cut_bps = 0;
  for (const auto& c : plan.cut_links()) {
    cut_bps += std::max(c.a_to_b_rate_bps(), c.b_to_a_rate_bps());
  }
  absl::StrAppend(
      &out, "Lab ", plan.lab(), ": ", plan.nodes_size(), " nodes on ",
      plan.hosts_size(), " hosts (", Strategy(plan.options()),
      plan.options().overcommit() ? ", overcommit" : "", "); ",
      plan.cut_links_size(), " of ", plan.links(), " links cross hosts",
      plan.cut_links_size() > 0
          ? absl::StrCat(" (", FormatRate(cut_bps), " configured", ")")
          : "",
      "; placed in ", absl::StrFormat("%.1f", plan.place_ms()), " ms\n");
  for (const auto& w : plan.warnings())
    absl::StrAppend(&out, "warning: ", w, "\n");

  Table hosts({"HOST", "NODES", "CPUS", "LIMIT", "MEMORY"});
  for (const auto& h : plan.hosts()) {
    hosts.AddRow(
        {h.host(), absl::StrCat(h.nodes()),
         absl::StrCat(Cpus(h.cpu_milli()), "/", Cpus(h.cpu_capacity_milli())),
         h.cpu_limit_milli() == 0 ? "-" : Cpus(h.cpu_limit_milli()),
         absl::StrCat(FormatMib(h.memory_mib()), "/",
                      FormatMib(h.memory_capacity_mib()))});
  }
  absl::StrAppend(&out, "\nHOSTS\n", hosts.Render());

  Table nodes({"NODE", "HOST", "PINNED", "CPUS", "MEMORY"});
  for (const auto& n : plan.nodes()) {
    nodes.AddRow({n.node(), n.host(), n.pinned() ? "yes" : "-",
                  Cpus(n.cpu_milli()), FormatMib(n.memory_mib())});
  }
  absl::StrAppend(&out, "\nNODES\n", nodes.Render());

  absl::StrAppend(&out, "\nCUT LINKS\n");
  if (plan.cut_links().empty()) {
    absl::StrAppend(&out, "(none: every link stays on one host)\n");
  } else {
    Table cut({"LINK", "HOSTS", "RATE A->B", "RATE B->A"});
    for (const auto& c : plan.cut_links()) {
      cut.AddRow(
          {c.link(), absl::StrCat(c.host_a(), "/", c.host_b()),
           c.a_to_b_rate_bps() ? FormatRate(c.a_to_b_rate_bps()) : "unshaped",
           c.b_to_a_rate_bps() ? FormatRate(c.b_to_a_rate_bps()) : "unshaped"});
    }
    out += cut.Render();
  }
  return out;
}

}  // namespace emu::cli
