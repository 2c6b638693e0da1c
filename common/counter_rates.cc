#include "common/counter_rates.h"

#include <map>
#include <string>

namespace emu {

double RatePerSecond(uint64_t earlier, uint64_t later, double seconds) {
  if (seconds <= 0 || later < earlier) return 0;
  return static_cast<double>(later - earlier) / seconds;
}

namespace {

void DirectionRates(const emu::v1::DirectionCounters& e,
                    emu::v1::DirectionCounters* l, double seconds) {
  l->set_rate_bits_per_second(
      8 * RatePerSecond(e.delivered_bytes(), l->delivered_bytes(), seconds));
  l->set_rate_packets_per_second(
      RatePerSecond(e.delivered_packets(), l->delivered_packets(), seconds));
}

}  // namespace

emu::v1::LabCounters WithRates(const emu::v1::LabCounters& earlier,
                               emu::v1::LabCounters later) {
  const double seconds =
      static_cast<double>(later.time_unix_us() - earlier.time_unix_us()) / 1e6;
  std::map<std::string, const emu::v1::LinkCounters*> links;
  for (const auto& l : earlier.links()) links[l.link()] = &l;
  std::map<std::string, const emu::v1::NodeUsage*> nodes;
  for (const auto& n : earlier.nodes()) nodes[n.node()] = &n;
  for (auto& l : *later.mutable_links()) {
    auto it = links.find(l.link());
    if (it == links.end()) continue;
    DirectionRates(it->second->a_to_b(), l.mutable_a_to_b(), seconds);
    DirectionRates(it->second->b_to_a(), l.mutable_b_to_a(), seconds);
  }
  for (auto& n : *later.mutable_nodes()) {
    auto it = nodes.find(n.node());
    if (it == nodes.end() || seconds <= 0) continue;
    const double cpu = n.cpu_seconds() - it->second->cpu_seconds();
    // Fewer CPU seconds than before: processes ended; no honest figure.
    n.set_cpu_percent(cpu > 0 ? 100 * cpu / seconds : 0);
  }
  return later;
}

}  // namespace emu
