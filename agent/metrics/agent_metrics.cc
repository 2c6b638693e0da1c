#include "agent/metrics/agent_metrics.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "proto/topology.pb.h"

namespace emu::agent::metrics {
namespace {

using emu::metrics::Family;
using emu::metrics::MetricType;
using emu::metrics::NewFamily;

// "NODE_KIND_NETNS" -> "netns".
std::string KindName(emu::v1::NodeKind kind) {
  std::string name = emu::v1::NodeKind_Name(kind);
  return absl::AsciiStrToLower(std::string(absl::StripPrefix(name, "NODE_KIND_")));
}

}  // namespace

std::vector<Family> SpecFamilies(
    const std::vector<emu::v1::ApplyLabRequest>& specs) {
  Family labs = NewFamily("emu_agent_labs",
                     "Labs this agent keeps (its saved desired state).",
                     MetricType::kGauge, {});
  labs.samples.push_back({{}, static_cast<double>(specs.size())});
  Family nodes = NewFamily("emu_agent_nodes",
                      "Nodes of this agent's labs, by kind.",
                      MetricType::kGauge, {"kind"});
  std::map<std::string, int> by_kind;
  for (const auto& spec : specs) {
    for (const auto& n : spec.nodes()) ++by_kind[KindName(n.kind())];
  }
  for (const auto& [kind, count] : by_kind) {
    nodes.samples.push_back({{kind}, static_cast<double>(count)});
  }
  return {labs, nodes};
}

std::vector<Family> TunnelFamilies(
    const std::vector<tunnel::TunnelStatus>& tunnels) {
  Family up = NewFamily("emu_tunnel_up",
                   "1 when the cross-host link's tunnel is connected.",
                   MetricType::kGauge, {"lab", "link"});
  Family states = NewFamily("emu_tunnels", "Tunnels of this agent by state.",
                       MetricType::kGauge, {"state"});
  Family connections = NewFamily(
      "emu_tunnel_connections_total",
      "Connections a tunnel made since its TAP was created.",
      MetricType::kCounter, {"lab", "link"});
  Family reconnects = NewFamily(
      "emu_tunnel_reconnects_total",
      "Connections after the first: the tunnel lost its peer and came back.",
      MetricType::kCounter, {"lab", "link"});
  int n_up = 0;
  for (const tunnel::TunnelStatus& t : tunnels) {
    const emu::metrics::LabelValues labels = {t.spec.lab, t.spec.link_id};
    up.samples.push_back({labels, t.up ? 1.0 : 0.0});
    connections.samples.push_back(
        {labels, static_cast<double>(t.stats.connections)});
    reconnects.samples.push_back(
        {labels, t.stats.connections > 1
                     ? static_cast<double>(t.stats.connections - 1)
                     : 0.0});
    n_up += t.up ? 1 : 0;
  }
  states.samples.push_back({{"up"}, static_cast<double>(n_up)});
  states.samples.push_back(
      {{"down"}, static_cast<double>(tunnels.size() - n_up)});
  return {up, states, connections, reconnects};
}

std::vector<Family> EngineFamilies(
    const std::vector<impair::EngineLinks::Served>& served) {
  Family links = NewFamily("emu_engine_links",
                      "Links the userspace impairment engine serves, by lab.",
                      MetricType::kGauge, {"lab"});
  std::map<std::string, int> by_lab;
  for (const auto& s : served) ++by_lab[s.lab];
  for (const auto& [lab, count] : by_lab) {
    links.samples.push_back({{lab}, static_cast<double>(count)});
  }
  return {links};
}

void AddAgentCollectors(emu::metrics::Registry* registry,
                        const reconcile::LabSpecStore* specs,
                        tunnel::TunnelManager* tunnels,
                        impair::EngineLinks* engine_links,
                        stats::LabCounterCollector* counters,
                        int max_links_per_lab) {
  if (specs != nullptr) {
    registry->AddCollector([specs, counters,
                            max_links_per_lab](std::vector<Family>* out) {
      std::vector<emu::v1::ApplyLabRequest> loaded;
      auto labs = specs->List();
      if (labs.ok()) {
        for (const std::string& lab : *labs) {
          auto spec = specs->Load(lab);
          if (spec.ok()) loaded.push_back(*std::move(spec));
        }
      }
      for (Family& f : SpecFamilies(loaded)) out->push_back(std::move(f));
      if (counters == nullptr) return;
      std::vector<emu::v1::LabCounters> sampled;
      sampled.reserve(loaded.size());
      for (const auto& spec : loaded) sampled.push_back(counters->Collect(spec));
      emu::metrics::LinkMetricsOptions options;
      options.per_host = true;
      options.max_links_per_lab = max_links_per_lab;
      for (Family& f : emu::metrics::LinkCounterFamilies(sampled, options)) {
        out->push_back(std::move(f));
      }
    });
  }
  registry->AddCollector([tunnels](std::vector<Family>* out) {
    std::vector<tunnel::TunnelStatus> list;
    if (tunnels != nullptr) list = tunnels->List("");
    for (Family& f : TunnelFamilies(list)) out->push_back(std::move(f));
  });
  if (engine_links != nullptr) {
    registry->AddCollector([engine_links](std::vector<Family>* out) {
      for (Family& f : EngineFamilies(engine_links->List(""))) {
        out->push_back(std::move(f));
      }
    });
  }
}

}  // namespace emu::agent::metrics
