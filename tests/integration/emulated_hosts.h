// Test and benchmark support: N emulated physical hosts on one machine, the
// way the local cluster builds them. Each host is a network namespace with
// an address on a bridge in the root namespace (the "switch"), and may run
// its own real emu-agent process inside (same binary, real TCP between
// hosts). Everything is named with the caller's tag and pid and removed by
// the destructor; agents are ended by pid.
//
// Not thread-safe.
#ifndef EMU_TESTS_INTEGRATION_EMULATED_HOSTS_H_
#define EMU_TESTS_INTEGRATION_EMULATED_HOSTS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/process_launcher.h"
#include "proto/agent.grpc.pb.h"

namespace emu::testing {

class EmulatedHosts {
 public:
  // `tag`: 1-3 letters; `subnet`: the first three octets of a /24 of the
  // caller's own ("198.18.250"). Host i (0-based) is <subnet>.<11+i>, the
  // bridge <subnet>.1.
  EmulatedHosts(std::string tag, int hosts, std::string subnet);
  ~EmulatedHosts();

  // Bridge, host namespaces, their addresses.
  absl::Status Create();
  // Starts (or restarts, keeping its state directory) host i's agent,
  // listening on <address>:7471 and tunnels on <address>:7472, with
  // `extra_args` after the usual flags ("--tunnel_carrier=plain").
  absl::Status StartAgent(int i, std::vector<std::string> extra_args = {});
  // Sends `signal` to host i's agent and reaps it.
  absl::Status KillAgent(int i, int signal);

  int size() const { return static_cast<int>(hosts_.size()); }
  const std::string& token() const { return token_; }
  // The hosts' PKI (CA, controller, one certificate per agent).
  std::string pki_dir() const { return dir_ + "/pki"; }
  std::string HostName(int i) const { return hosts_[i].name; }
  std::string HostNetns(int i) const { return hosts_[i].netns; }
  std::string Address(int i) const { return hosts_[i].address; }
  std::string TunnelAddress(int i) const { return hosts_[i].address + ":7472"; }
  std::string AgentLog(int i) const;
  std::unique_ptr<emu::v1::AgentService::Stub> Agent(int i) const;

  // Runs argv inside host i's namespace (not a node's).
  absl::StatusOr<ProcessResult> RunInHost(int i,
                                          std::vector<std::string> argv);

 private:
  struct Host {
    std::string name;
    std::string netns;
    std::string veth;  // root side, on the bridge
    std::string address;
    pid_t agent_pid = 0;
  };
  absl::Status Ip(std::vector<std::string> args);

  std::string tag_;
  std::string subnet_;
  std::string bridge_;
  std::string dir_;
  std::string token_;
  std::vector<Host> hosts_;
  PosixProcessLauncher launcher_;
  bool created_ = false;
};

}  // namespace emu::testing

#endif  // EMU_TESTS_INTEGRATION_EMULATED_HOSTS_H_
