// NamespaceCounters over libnl-route-3: one link dump and one qdisc dump
// from a NETLINK_ROUTE socket opened by a short-lived thread inside the
// namespace (setns changes only that thread).
#ifndef EMU_AGENT_STATS_LIBNL_COUNTERS_H_
#define EMU_AGENT_STATS_LIBNL_COUNTERS_H_

#include "agent/stats/counter_reader.h"

namespace emu::agent::stats {

class LibnlNamespaceCounters : public NamespaceCounters {
 public:
  absl::StatusOr<std::vector<InterfaceSample>> Read(
      const std::string& ns) override;
};

}  // namespace emu::agent::stats

#endif  // EMU_AGENT_STATS_LIBNL_COUNTERS_H_
