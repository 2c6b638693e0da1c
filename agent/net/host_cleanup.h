// Removing what an agent of one host owns on this machine when no agent of
// that host runs any more: `emu-agent --cleanup`, `emuctl local stop` and
// `emuctl local gc` use it. Ownership is by name only (agent/resource_names.h):
// the node namespaces /run/netns/emu.<host>.*, the processes inside them
// (lab commands, QEMU guests), and the veths and TAPs that live in those
// namespaces and go with them. Nothing outside the prefix is touched.
#ifndef EMU_AGENT_NET_HOST_CLEANUP_H_
#define EMU_AGENT_NET_HOST_CLEANUP_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/net/host_network.h"
#include "agent/net/namespace_processes.h"

namespace emu::agent::net {

struct HostCleanupResult {
  std::vector<std::string> removed;  // namespaces deleted, in order
  // Root-namespace ends of containerlab host links this host's agent made
  // (net::HostEndAlias) and its labs' management bridges
  // (net::MgmtBridgeAlias), deleted first.
  std::vector<std::string> removed_host_ends;
  // OK, or the first failure (naming the namespace); removal carries on past
  // failures so one stuck namespace does not keep the others.
  absl::Status status;
};

// Ends the processes in each namespace of `host` (SIGTERM, SIGKILL after
// `grace`) and deletes the namespace. Must not run while an agent of `host`
// is alive: it would race that agent's reconciler. Thread-compatible; the
// borrowed dependencies must be thread-safe as their interfaces say.
HostCleanupResult RemoveHostResources(absl::string_view host, HostNetwork* net,
                                      NamespaceProcesses* procs,
                                      absl::Duration grace);

// True when `argv` (a /proc/<pid>/cmdline) is an emu-agent serving `host`:
// argv[0]'s basename is emu-agent and it has --host_name=<host> (or
// "--host_name <host>"), without --cleanup. Pure.
bool ArgvIsAgentOf(const std::vector<std::string>& argv,
                   absl::string_view host);

// Pids of the live emu-agent processes serving `host`, other than the
// caller, from /proc. An agent started without --host_name (its name is the
// machine's) is not recognised: pass --host_name to both.
std::vector<pid_t> FindAgentProcesses(absl::string_view host);

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_HOST_CLEANUP_H_
