// What an agent tells Prometheus about itself (besides RPC latencies,
// common/metrics/rpc_metrics.h): its labs and nodes (from the saved specs,
// the desired state it keeps), its cross-host tunnels (up or not, how often
// they connected) and the links its userspace engine serves. Computed at
// scrape time from snapshots; the pure functions below build the families
// so tests need no kernel.
//
// Per-link and per-node counters are those `emuctl stats` reads (agent/stats'
// LabCounterCollector, no second collector), rendered by
// common/metrics/link_metrics.h for this host's share of each lab.
#ifndef EMU_AGENT_METRICS_AGENT_METRICS_H_
#define EMU_AGENT_METRICS_AGENT_METRICS_H_

#include <string>
#include <vector>

#include "agent/impair/engine_links.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/stats/lab_counters.h"
#include "agent/tunnel/tunnel_manager.h"
#include "common/metrics/link_metrics.h"
#include "common/metrics/metrics.h"
#include "proto/agent.pb.h"

namespace emu::agent::metrics {

// emu_agent_labs, emu_agent_nodes{kind}: the saved specs.
std::vector<emu::metrics::Family> SpecFamilies(
    const std::vector<emu::v1::ApplyLabRequest>& specs);

// emu_tunnel_up{lab,link} (1 connected, 0 not), emu_tunnels{state}
// ("up"/"down"), emu_tunnel_connections_total{lab,link} (connections made
// since the tunnel's TAP was created; more than 1 means reconnects) and
// emu_tunnel_reconnects_total{lab,link}.
std::vector<emu::metrics::Family> TunnelFamilies(
    const std::vector<tunnel::TunnelStatus>& tunnels);

// emu_engine_links{lab}: links the userspace engine serves.
std::vector<emu::metrics::Family> EngineFamilies(
    const std::vector<impair::EngineLinks::Served>& served);

// Adds collectors for all of the above to `registry`, and with `counters`
// the emu_link_* and emu_node_* families of every saved lab
// (LinkCounterFamilies, per_host). Any of the sources may be null (no
// tunnels, no engine, no counters). Borrows them: they must outlive the
// registry's last scrape.
void AddAgentCollectors(emu::metrics::Registry* registry,
                        const reconcile::LabSpecStore* specs,
                        tunnel::TunnelManager* tunnels,
                        impair::EngineLinks* engine_links,
                        stats::LabCounterCollector* counters = nullptr,
                        int max_links_per_lab = 1000);

}  // namespace emu::agent::metrics

#endif  // EMU_AGENT_METRICS_AGENT_METRICS_H_
