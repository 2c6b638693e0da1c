// LabCounterCollector: the counters of one lab's share of this host, as
// emu.v1.LabCounters (proto/counters.proto): per link direction what this
// host observes of it (a same-host link: all of it; a cross-host link: the
// sending side of the direction that leaves here, the delivering side of
// the one that arrives), per node the CPU and memory of its processes.
//
// Where the numbers come from: every link end is an interface in its
// node's namespace (a veth, an engine TAP, a tunnel TAP), so the kernel's
// interface counters give sent (the sender's tx) and delivered (the
// receiver's rx) for every kind of link, and the sender's root qdisc its
// drops and backlog; the userspace engine's counters add its drops and
// queue for the links it serves, the tunnel pump's for cross-host ends.
// Metrics and the web view call Collect the same way the agent's
// GetLabStats does.
//
// Thread-safe (the sources are). Borrows every source.
#ifndef EMU_AGENT_STATS_LAB_COUNTERS_H_
#define EMU_AGENT_STATS_LAB_COUNTERS_H_

#include <string>

#include "agent/impair/engine_links.h"
#include "agent/net/namespace_processes.h"
#include "agent/stats/counter_reader.h"
#include "agent/tunnel/tunnel_manager.h"
#include "proto/agent.pb.h"
#include "proto/counters.pb.h"

namespace emu::agent::stats {

class LabCounterCollector {
 public:
  struct Sources {
    NamespaceCounters* counters = nullptr;
    net::NamespaceProcesses* processes = nullptr;
    ProcessUsage* usage = nullptr;
    impair::EngineLinks* engine_links = nullptr;  // null: no engine links
    tunnel::TunnelManager* tunnels = nullptr;     // null: no tunnels
  };

  LabCounterCollector(std::string host, Sources sources);

  // The counters of `spec` (the lab's saved share of this host) now. What
  // cannot be read is named in `problems`; the rest is filled.
  emu::v1::LabCounters Collect(const emu::v1::ApplyLabRequest& spec);

 private:
  const std::string host_;
  const Sources sources_;
};

}  // namespace emu::agent::stats

#endif  // EMU_AGENT_STATS_LAB_COUNTERS_H_
