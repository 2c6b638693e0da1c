// The agent of an emulated host (emuctl local start) runs in that host's
// network namespace, but what must reach the machine's own network (image
// builds download from Debian's archive) runs in the namespace the agent
// was started in. So the agent enters the host's namespace itself, at
// start, keeping a handle on the one it leaves (`emu-agent --netns`).
#ifndef EMU_AGENT_NET_ENTER_NAMESPACE_H_
#define EMU_AGENT_NET_ENTER_NAMESPACE_H_

#include <string>

#include "absl/status/statusor.h"

namespace emu::agent::net {

// Moves this process into the network namespace /run/netns/<name> (under
// `netns_dir`). Call before any thread exists: setns moves only the calling
// thread, so FAILED_PRECONDITION if the process has more than one. Returns
// a path naming the namespace the process was in ("/proc/self/fd/N": an
// open descriptor, which children inherit until they exec), for
// ProcessSpec::netns.
absl::StatusOr<std::string> EnterNamespaceAtStart(const std::string& netns_dir,
                                                  const std::string& name);

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_ENTER_NAMESPACE_H_
