// Finding and ending the processes inside a network namespace, as
// `ip netns pids` sees them: by comparing /proc/PID/ns/net with the
// namespace's bind mount under /run/netns.
#ifndef EMU_COMMON_NETNS_PIDS_H_
#define EMU_COMMON_NETNS_PIDS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace emu {

// Pids (thread group ids, ascending) of the live processes whose network
// namespace is `netns_name` (a name under /run/netns, or a path when it
// contains a '/'). Zombies have no namespace and are not listed; the calling
// process never is. NOT_FOUND when the namespace does not exist. Reads
// /proc; thread-safe.
absl::StatusOr<std::vector<pid_t>> PidsInNetns(const std::string& netns_name);

// PidsInNetns of many namespaces with one pass over /proc: every namespace
// of `netns_names` that exists is a key (with an empty list when nothing
// runs in it); those that do not exist are left out. One /proc scan per
// namespace made listing a host of 500 nodes cost 500 x (processes on the
// machine) stat calls (issue 14).
absl::StatusOr<absl::flat_hash_map<std::string, std::vector<pid_t>>>
PidsInNetnsMany(const std::vector<std::string>& netns_names);

// Ends every process in the namespace: SIGTERM, then SIGKILL to those still
// there after `grace` (processes that appear meanwhile are signalled too),
// reaping those that are children of the caller. OK once none remains.
// DEADLINE_EXCEEDED (naming the pids) if some survive SIGKILL for a few
// seconds; NOT_FOUND when the namespace does not exist. Thread-safe.
absl::Status KillPidsInNetns(const std::string& netns_name,
                             absl::Duration grace);

}  // namespace emu

#endif  // EMU_COMMON_NETNS_PIDS_H_
