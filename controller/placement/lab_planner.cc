#include "controller/placement/lab_planner.h"

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "controller/lab/host_commands.h"
#include "controller/placement/placement.h"

namespace emu::controller::placement {

absl::StatusOr<emu::v1::PlanLabResponse> PlanLab(
    const lab::LabManager& labs, hosts::HostRegistry* hosts,
    const emu::v1::PlanLabRequest& request, bool admin,
    const std::string& caller) {
  auto parsed = labs.Validate(request.source());
  if (!parsed.ok()) return parsed.status();
  const emu::v1::Topology& topo = parsed->topology;
  EMU_RETURN_IF_ERROR(lab::CheckHostCommandCaller(topo, {}, admin, caller));
  hosts->Refresh(absl::Seconds(2));
  const emu::v1::PlacementOptions& options =
      request.has_options() ? request.options() : topo.placement();
  absl::Time start = absl::Now();
  const std::vector<emu::v1::HostStatus> snapshot = hosts->Snapshot();
  auto placement = PlaceTopology(topo, snapshot, options);
  double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  if (!placement.ok()) return placement.status();
  EMU_RETURN_IF_ERROR(lab::CheckHostCommandHosts(
      topo, {}, placement->host_of_node, snapshot));

  emu::v1::PlanLabResponse out;
  out.set_lab(topo.name());
  *out.mutable_options() = placement->options;
  for (const auto& node : topo.nodes()) {
    auto* np = out.add_nodes();
    np->set_node(node.name());
    np->set_host(placement->host_of_node[node.name()]);
    np->set_pinned(!node.host().empty());
    NodeDemand d = DemandOf(node);
    np->set_cpu_milli(d.cpu_milli);
    np->set_memory_mib(d.memory_mib);
  }
  for (const auto& l : placement->loads) *out.add_hosts() = l;
  for (const auto& c : placement->cut_links) *out.add_cut_links() = c;
  out.set_links(topo.links_size());
  for (const auto& w : parsed->warnings) out.add_warnings(w);
  out.set_place_ms(ms);
  return out;
}

}  // namespace emu::controller::placement
