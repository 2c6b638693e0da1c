// The kernel's counters of a namespace's interfaces and their root qdiscs,
// and the CPU and memory of processes: the OS boundary of the lab's
// counters (lab_counters.h). Interfaces so its tests run without root.
#ifndef EMU_AGENT_STATS_COUNTER_READER_H_
#define EMU_AGENT_STATS_COUNTER_READER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace emu::agent::stats {

// One interface as the kernel counts it, with its root qdisc (the one that
// shapes what the interface sends).
struct InterfaceSample {
  std::string name;
  uint64_t rx_bytes = 0;
  uint64_t rx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t tx_packets = 0;
  uint64_t rx_dropped = 0;
  uint64_t tx_dropped = 0;
  std::string qdisc;  // root qdisc kind ("tbf", "noqueue", ...)
  uint64_t qdisc_drops = 0;
  uint64_t backlog_bytes = 0;
  uint64_t backlog_packets = 0;
};

class NamespaceCounters {
 public:
  virtual ~NamespaceCounters() = default;
  // Every interface of /run/netns/<ns>. Thread-safe.
  virtual absl::StatusOr<std::vector<InterfaceSample>> Read(
      const std::string& ns) = 0;
};

struct ProcessSample {
  double cpu_seconds = 0;   // user + system, since the process started
  uint64_t rss_bytes = 0;   // resident memory now
};

class ProcessUsage {
 public:
  virtual ~ProcessUsage() = default;
  // NOT_FOUND when the process is gone. Thread-safe.
  virtual absl::StatusOr<ProcessSample> Read(pid_t pid) = 0;
};

}  // namespace emu::agent::stats

#endif  // EMU_AGENT_STATS_COUNTER_READER_H_
