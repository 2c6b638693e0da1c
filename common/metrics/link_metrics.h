// Per-link and per-node counters (emu.v1.LabCounters, what `emuctl stats`
// shows) as Prometheus families, for the agents' /metrics (each its own
// share of a lab) and the controller's (every host's, merged). One
// function for both so the names, labels and meaning are the same.
//
// Families (docs/observability.md lists them):
//   emu_link_tx_bytes_total, emu_link_tx_packets_total: frames the sending
//     end put on the link; emu_link_rx_bytes_total, emu_link_rx_packets_total:
//     frames the receiving end got; emu_link_dropped_packets_total;
//     emu_link_backlog_bytes, emu_link_backlog_packets (gauges: queued now).
//     Labels: lab (the lab's key, "alice+core"; the administrator's labs
//     have no owner part), link ("r1:eth1<->r2:eth1"), direction ("a_to_b"
//     or "b_to_a"), from and to ("r1:eth1", NODE:IFACE of each end).
//   emu_node_cpu_seconds_total, emu_node_memory_bytes, emu_node_processes:
//     labels lab, node.
//   emu_link_series_omitted{lab}: links of a lab left out because the lab
//     has more than `max_links_per_lab` (cardinality cap; 0 when none).
//
// Cardinality: 7 series per link direction, 14 per link; a lab of 1,000
// links is 14,000 series. Labs over the cap export their first
// `max_links_per_lab` links (in the order LabCounters lists them) and count
// the rest in emu_link_series_omitted.
#ifndef EMU_COMMON_METRICS_LINK_METRICS_H_
#define EMU_COMMON_METRICS_LINK_METRICS_H_

#include <vector>

#include "common/metrics/metrics.h"
#include "proto/counters.pb.h"

namespace emu::metrics {

struct LinkMetricsOptions {
  // Links exported per lab (0: none, only emu_link_series_omitted).
  int max_links_per_lab = 1000;
  // An agent's share: a cross-host link's direction is exported only for
  // what this host observes (tx, drops and backlog where `from` is one of
  // LabCounters.nodes, rx where `to` is), so that summing the agents'
  // series gives the link's totals and no agent reports a 0 it never read.
  // The controller's merged counters: false.
  bool per_host = false;
};

std::vector<Family> LinkCounterFamilies(
    const std::vector<emu::v1::LabCounters>& labs,
    const LinkMetricsOptions& options);

}  // namespace emu::metrics

#endif  // EMU_COMMON_METRICS_LINK_METRICS_H_
