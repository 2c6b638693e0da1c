// Making a machine an emu host, and undoing it (issue 9, `emuctl cluster
// add` / `cluster remove`, docs/cluster.md "Adding hosts over SSH"): the
// steps in order, each idempotent and reporting "changed" or "unchanged",
// against a RemoteHost (deploy/remote_host). What is local to emuctl (the
// reverse tunnel, the controller's answer) comes in as hooks, so unit tests
// drive the whole sequence with fakes.
#ifndef EMU_DEPLOY_HOST_INSTALL_HOST_INSTALL_H_
#define EMU_DEPLOY_HOST_INSTALL_HOST_INSTALL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/pki/pki.h"
#include "deploy/remote_host/remote_host.h"

namespace emu::deploy::host_install {

// The Debian 12 packages emu-agent needs at run time (its shared libraries
// and the tools it runs). apt installs only the missing ones.
const std::vector<std::string>& AgentPackages();

// Where things go on the host. `prefix` ("" normally) is put in front of
// every path, for tests that install into a directory of their own.
struct Layout {
  std::string prefix;
  std::string bin_dir() const { return prefix + "/usr/local/bin"; }
  std::string etc_dir() const { return prefix + "/etc/emu"; }
  std::string pki_dir() const { return etc_dir() + "/pki"; }
  std::string token_file() const { return etc_dir() + "/token"; }
  std::string env_file() const { return etc_dir() + "/emu.env"; }
  std::string run_dir() const { return prefix + "/run/emu"; }
  std::string pid_file() const { return run_dir() + "/emu-agent.pid"; }
  // The reverse tunnel's end on the host (ssh -R).
  std::string controller_socket() const {
    return run_dir() + "/controller.sock";
  }
  std::string state_dir() const { return prefix + "/var/lib/emu/agent"; }
  std::string log_file() const { return prefix + "/var/log/emu-agent.log"; }
  std::string unit_file() const {
    return prefix + "/etc/systemd/system/emu-agent.service";
  }
};

enum class ServiceMode { kAuto, kSystemd, kProcess };

struct Binary {
  std::string name;     // "emu-agent": the file name in bin_dir
  std::string content;  // its bytes
};

struct AddPlan {
  std::string name;     // the host's name in the cluster (--host_name)
  std::string address;  // the host's address the controller and peers dial
  int agent_port = 7471;
  int tunnel_port = 7472;
  // What the agent dials to register: "HOST:PORT", or empty for the
  // reverse tunnel's socket (Layout::controller_socket).
  std::string controller;
  Layout layout;
  ServiceMode service = ServiceMode::kAuto;
  std::vector<std::string> packages = AgentPackages();
  std::vector<Binary> binaries;
  std::string token;
  // The cluster CA (certificate and key): issues the agent's certificate.
  common::pki::Credentials ca;
  std::string unit;  // deploy/systemd/emu-agent.service
};

// What the steps of one run did.
struct StepReport {
  std::string step;
  enum State { kChanged, kUnchanged, kFailed, kNotRun } state = kNotRun;
  std::string detail;
};

// Local work between the steps.
struct Hooks {
  // Ensures the reverse tunnel (ssh -R) from the host's
  // controller_socket to the controller; true when it had to open one.
  // Called only when AddPlan::controller is empty.
  std::function<absl::StatusOr<bool>()> ensure_tunnel;
  // Waits until the controller lists the host as reachable.
  std::function<absl::Status()> wait_registered;
  // Remove: ends the reverse tunnel; true when one was running.
  std::function<absl::StatusOr<bool>()> close_tunnel;
  // Remove: deregisters the host from the controller, refusing while labs
  // use it (unless --force); true when the controller knew it. Sets the
  // step's detail.
  std::function<absl::StatusOr<bool>(std::string* detail)> drain;
};

// The agent's command line (also what emu.env's settings give).
std::vector<std::string> AgentArgv(const AddPlan& plan);

// Runs the add steps in order: os, privileges, packages, binaries,
// credentials, tunnel, agent, registration. Stops at the first failure.
// `report` gets one entry per step (kNotRun for those after a failure).
// The error names the host and the step.
absl::Status Add(remote_host::RemoteHost& host, const AddPlan& plan,
                 const Hooks& hooks, std::vector<StepReport>* report);

struct RemovePlan {
  std::string name;
  Layout layout;
  ServiceMode service = ServiceMode::kAuto;
  std::vector<std::string> binaries = {"emu-agent"};
  // Also remove the labs' leftovers on the host (emu-agent --cleanup).
  bool force = false;
};

// privileges, drain, agent, leftovers (with force), tunnel, files.
absl::Status Remove(remote_host::RemoteHost& host, const RemovePlan& plan,
                    const Hooks& hooks, std::vector<StepReport>* report);

// "os: unchanged (debian 12)" lines, and after a failure which steps were
// done and which not.
std::string FormatReport(const std::vector<StepReport>& report);

// Hex SHA-256 of `data` (as sha256sum prints it).
std::string Sha256Hex(const std::string& data);

// The remote commands the steps run, for tests that simulate a host.
namespace commands {
std::string OsRelease();        // prints "ID VERSION_ID"
std::string UserId();           // prints the uid
std::string SudoWorks();        // exit 0 when sudo -n works
std::string Systemd();          // exit 0 when systemd runs
std::string PackageStatus(const std::vector<std::string>& packages);
std::string AptInstall(const std::vector<std::string>& packages);
std::string FileState(const std::string& path);  // "HASH MODE" or "absent"
std::string ReadFile(const std::string& path);
std::string ProcessRunning(const Layout& layout);  // prints the pid
std::string StopProcess(const Layout& layout);
std::string StartProcess(const Layout& layout,
                         const std::vector<std::string>& argv);
// Removes `paths` (files) and `dirs` (trees), printing what was there,
// then each of `empty_dirs` that is empty.
std::string RemovePaths(const std::vector<std::string>& paths,
                        const std::vector<std::string>& dirs,
                        const std::vector<std::string>& empty_dirs);
}  // namespace commands

}  // namespace emu::deploy::host_install

#endif  // EMU_DEPLOY_HOST_INSTALL_HOST_INSTALL_H_
