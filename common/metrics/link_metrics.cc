#include "common/metrics/link_metrics.h"

#include <set>
#include <string>

#include "absl/strings/string_view.h"

namespace emu::metrics {
namespace {

// "r1:eth1" -> "r1" (interface names have no ':'; node names neither).
std::string NodeOf(const std::string& endpoint) {
  return endpoint.substr(0, endpoint.rfind(':'));
}

}  // namespace

std::vector<Family> LinkCounterFamilies(
    const std::vector<emu::v1::LabCounters>& labs,
    const LinkMetricsOptions& options) {
  const std::vector<std::string> link_labels = {"lab", "link", "direction",
                                                "from", "to"};
  Family tx_bytes = NewFamily("emu_link_tx_bytes_total",
                              "Bytes the sending end put on the link.",
                              MetricType::kCounter, link_labels);
  Family tx_packets = NewFamily("emu_link_tx_packets_total",
                                "Packets the sending end put on the link.",
                                MetricType::kCounter, link_labels);
  Family rx_bytes = NewFamily("emu_link_rx_bytes_total",
                              "Bytes the receiving end got from the link.",
                              MetricType::kCounter, link_labels);
  Family rx_packets = NewFamily("emu_link_rx_packets_total",
                                "Packets the receiving end got from the link.",
                                MetricType::kCounter, link_labels);
  Family dropped = NewFamily(
      "emu_link_dropped_packets_total",
      "Packets dropped on the way: qdisc, userspace engine or tunnel.",
      MetricType::kCounter, link_labels);
  Family backlog_bytes = NewFamily("emu_link_backlog_bytes",
                                   "Bytes queued in this direction now.",
                                   MetricType::kGauge, link_labels);
  Family backlog_packets = NewFamily("emu_link_backlog_packets",
                                     "Packets queued in this direction now.",
                                     MetricType::kGauge, link_labels);
  std::vector<std::string> late_labels = link_labels;
  late_labels.push_back("at_least");
  Family late = NewFamily(
      "emu_link_late_packets_total",
      "Packets the userspace engine or a tunnel sent at least 1ms / 10ms "
      "after the departure their conditions gave them (the host did not run "
      "the sender in time); 0 where kernel qdiscs send.",
      MetricType::kCounter, late_labels);
  Family omitted = NewFamily(
      "emu_link_series_omitted",
      "Links of the lab left out of the emu_link_* families (cardinality cap).",
      MetricType::kGauge, {"lab"});
  const std::vector<std::string> node_labels = {"lab", "node"};
  Family cpu = NewFamily("emu_node_cpu_seconds_total",
                         "User and system CPU time of the node's processes.",
                         MetricType::kCounter, node_labels);
  Family memory = NewFamily("emu_node_memory_bytes",
                            "Resident memory of the node's processes.",
                            MetricType::kGauge, node_labels);
  Family processes = NewFamily("emu_node_processes",
                               "Processes in the node's network namespace.",
                               MetricType::kGauge, node_labels);

  for (const emu::v1::LabCounters& lab : labs) {
    std::set<std::string> local_nodes;
    for (const auto& n : lab.nodes()) local_nodes.insert(n.node());
    int exported = 0;
    for (const auto& link : lab.links()) {
      if (exported >= options.max_links_per_lab) break;
      ++exported;
      const bool partial = options.per_host && link.cross_host();
      for (const auto& [direction, d] :
           {std::pair<const char*, const emu::v1::DirectionCounters*>{
                "a_to_b", &link.a_to_b()},
            {"b_to_a", &link.b_to_a()}}) {
        const LabelValues labels = {lab.lab(), link.link(), direction,
                                    d->from(), d->to()};
        if (!partial || local_nodes.count(NodeOf(d->from())) > 0) {
          tx_bytes.samples.push_back({labels, double(d->sent_bytes())});
          tx_packets.samples.push_back({labels, double(d->sent_packets())});
          backlog_bytes.samples.push_back(
              {labels, double(d->backlog_bytes())});
          backlog_packets.samples.push_back(
              {labels, double(d->backlog_packets())});
          for (const auto& [at_least, n] :
               {std::pair{"1ms", d->late_1ms_packets()},
                std::pair{"10ms", d->late_10ms_packets()}}) {
            LabelValues with = labels;
            with.push_back(at_least);
            late.samples.push_back({with, double(n)});
          }
        }
        if (!partial || local_nodes.count(NodeOf(d->to())) > 0) {
          rx_bytes.samples.push_back({labels, double(d->delivered_bytes())});
          rx_packets.samples.push_back(
              {labels, double(d->delivered_packets())});
        }
        // Drops are counted on both sides of a cross-host link (the
        // sender's queue, the receiver's TAP write): each host exports its
        // own, and they add up.
        dropped.samples.push_back({labels, double(d->dropped_packets())});
      }
    }
    omitted.samples.push_back(
        {{lab.lab()}, double(lab.links_size() - exported)});
    for (const auto& n : lab.nodes()) {
      const LabelValues labels = {lab.lab(), n.node()};
      cpu.samples.push_back({labels, n.cpu_seconds()});
      memory.samples.push_back({labels, double(n.memory_bytes())});
      processes.samples.push_back({labels, double(n.processes())});
    }
  }
  return {tx_bytes,      tx_packets,      rx_bytes, rx_packets,
          dropped,       backlog_bytes,   backlog_packets, late,
          omitted,       cpu,             memory,   processes};
}

}  // namespace emu::metrics
