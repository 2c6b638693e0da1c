// What a netns node's sandbox is made of, as data: the mounts its holder
// makes in the node's own mount namespace, the capabilities commands in the
// node keep, and the holder's command line. Pure functions; the holder
// (node_sandbox.cc) carries the steps out, node_sandbox.h says why.
#ifndef EMU_AGENT_NODE_SANDBOX_PLAN_H_
#define EMU_AGENT_NODE_SANDBOX_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace emu::agent::node {

struct SandboxOptions {
  // Host paths hidden from the node (an empty read-only tmpfs over a
  // directory, /dev/null over a file): the agent's secrets and state.
  // Absolute, without "..", at most kMaxMaskedPaths.
  std::vector<std::string> masked_paths;
};
inline constexpr int kMaxMaskedPaths = 64;

// One step of the holder's mount setup, in order.
struct MountStep {
  enum class Kind {
    kPrivateTree,   // mount propagation of `target` and below: private
    kReadOnlyTree,  // `target` and every mount below it: read-only
    kMount,         // a new `fstype` file system at `target`
    kBind,          // `source` at `target`, read-only when read_only
    kMkdir,         // directory `target` (mode)
    kMknod,         // character device `target` (major, minor; mode)
    kSymlink,       // `target` -> `source`
    kMask,          // hide `target`: tmpfs (read-only) or /dev/null over it
  };
  Kind kind;
  std::string target;
  std::string source;
  std::string fstype;
  std::string data;            // file-system options ("mode=1777")
  unsigned long flags = 0;     // MS_* for kMount
  bool read_only = false;      // kBind
  unsigned mode = 0;           // kMkdir, kMknod
  unsigned major = 0, minor = 0;
  bool optional = false;       // skipped when `target` does not exist
};

// The node's file system: the host's tree read-only, its own /proc (of the
// node's PID namespace; /proc/sys read-only but for /proc/sys/net, the
// kernel's knobs masked as container runtimes do), its own /sys (the
// node's interfaces, read-only), /dev (null, zero, full, random, urandom,
// tty, ptmx and its own pts, shm), /tmp and /run (empty tmpfs), and
// `options.masked_paths` hidden.
std::vector<MountStep> BuildSandboxMounts(const SandboxOptions& options);

// Capabilities commands in a node keep (bit i = capability i), those of a
// container runtime's default plus CAP_NET_ADMIN: configuring the node's
// own interfaces, addresses, routes, qdiscs and net sysctls, raw sockets
// (ping, tcpdump), low ports, changing user. Not kept: CAP_SYS_ADMIN
// (mounts, setns), CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_PTRACE,
// CAP_SYS_TIME, CAP_SYS_BOOT, CAP_MKNOD, CAP_DAC_READ_SEARCH
// (open_by_handle_at), CAP_SYS_NICE, CAP_SYS_RESOURCE, CAP_BPF, ...
uint64_t NodeCapabilities();

// The holder's argv (after the program path): a marker, the namespace name,
// the options. ParseHolderArgv reverses it; INVALID_ARGUMENT naming the
// culprit for anything else.
inline constexpr char kHolderMarker[] = "emu-node-sandbox";
std::vector<std::string> HolderArgv(const std::string& netns,
                                    const SandboxOptions& options);
struct HolderArgs {
  std::string netns;
  SandboxOptions options;
};
absl::StatusOr<HolderArgs> ParseHolderArgv(const std::vector<std::string>& argv);

// Checks options: INVALID_ARGUMENT naming the bad path.
absl::Status ValidateSandboxOptions(const SandboxOptions& options);

// Where the holder says it is ready, inside the node's /run.
inline constexpr char kReadyMarker[] = "/run/.emu-sandbox-ready";

}  // namespace emu::agent::node

#endif  // EMU_AGENT_NODE_SANDBOX_PLAN_H_
