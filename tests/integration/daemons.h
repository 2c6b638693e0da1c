// Test fixture support: starts the real emu-agent and emu-controller
// binaries (from the test's runfiles) on loopback with fresh state
// directories and a token, and ends exactly those processes, by pid.
#ifndef EMU_TESTS_INTEGRATION_DAEMONS_H_
#define EMU_TESTS_INTEGRATION_DAEMONS_H_

#include <sys/types.h>

#include <memory>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/process_launcher.h"
#include "common/transport_security.h"
#include "proto/agent.grpc.pb.h"
#include "proto/controller.grpc.pb.h"

namespace emu::testing {

// Path of a binary of this workspace inside the test's runfiles.
std::string RunfilePath(const std::string& relative);

// A cluster PKI in `pki_dir` (common/pki): the CA, the controller's
// certificate and one per agent of `agents` (host name -> its address).
absl::Status MakeTestPki(const std::string& pki_dir,
                         const std::map<std::string, std::string>& agents);

// What the controller presents (mutual TLS, the cluster CA of `pki_dir`):
// the only identity agents accept calls from.
TransportSecurity ControllerTransport(const std::string& pki_dir);

// One agent plus one controller, on mutual TLS with a PKI of their own
// (<dir>/pki). Not thread-safe.
class Daemons {
 public:
  // `tag` makes host name, directories and labs unique to the test.
  explicit Daemons(std::string tag);
  ~Daemons();  // stops both, removes the state directory

  absl::Status StartAgent();
  absl::Status StartController();
  absl::Status KillAgent(int signal);  // by pid
  absl::Status KillController(int signal);

  const std::string& host() const { return host_; }
  const std::string& token() const { return token_; }
  const std::string& dir() const { return dir_; }
  std::string pki_dir() const { return dir_ + "/pki"; }
  int agent_port() const { return agent_port_; }
  int controller_port() const { return controller_port_; }
  std::string AgentLog() const;

  // Stubs as emuctl (TLS, no client certificate) and as the controller
  // (its certificate) call them.
  std::unique_ptr<emu::v1::ControllerService::Stub> Controller() const;
  std::unique_ptr<emu::v1::AgentService::Stub> Agent() const;

 private:
  absl::StatusOr<int> WaitPort(const std::string& file, pid_t pid);

  std::string tag_;
  std::string host_;
  std::string dir_;
  std::string token_;
  PosixProcessLauncher launcher_;
  pid_t agent_pid_ = 0;
  pid_t controller_pid_ = 0;
  int agent_port_ = 0;
  int controller_port_ = 0;
};

}  // namespace emu::testing

#endif  // EMU_TESTS_INTEGRATION_DAEMONS_H_
