#include "tests/integration/daemons.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"

namespace emu::testing {

std::string RunfilePath(const std::string& relative) {
  // bazel test sets TEST_SRCDIR; bazel run sets RUNFILES_DIR (or runs in
  // <binary>.runfiles/emu); a binary started by hand finds <self>.runfiles.
  std::vector<std::string> bases;
  for (const char* var : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    if (const char* v = std::getenv(var)) bases.push_back(v);
  }
  char self[4096] = {0};
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) bases.push_back(absl::StrCat(std::string(self, n), ".runfiles"));
  for (const auto& base : bases) {
    std::string path = absl::StrCat(base, "/emu/", relative);
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return relative;  // relative to the working directory
}

absl::Status MakeTestPki(const std::string& pki_dir,
                         const std::map<std::string, std::string>& agents) {
  absl::Status s = common::pki::InitCluster(pki_dir, "test", {});
  for (const auto& [host, address] : agents) {
    if (s.ok()) s = common::pki::IssueAgent(pki_dir, host, {address});
  }
  return s;
}

TransportSecurity ControllerTransport(const std::string& pki_dir) {
  absl::StatusOr<TransportSecurity> t = LoadDaemonTransport(
      pki_dir, common::pki::Role::kController, "", false);
  if (!t.ok()) {
    std::fprintf(stderr, "controller credentials: %s\n",
                 t.status().ToString().c_str());
    std::abort();
  }
  return *t;
}

Daemons::Daemons(std::string tag) : tag_(std::move(tag)) {
  host_ = absl::StrCat("t", tag_);
  const char* tmp = std::getenv("TEST_TMPDIR");
  dir_ = absl::StrCat(tmp ? tmp : "/tmp", "/emu-", tag_);
  mkdir(dir_.c_str(), 0700);
  token_ = absl::StrCat("token-", tag_, "-", getpid());
  std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << token_ << "\n";
  chmod(token_file.c_str(), 0600);
  if (absl::Status s = MakeTestPki(pki_dir(), {{host_, "127.0.0.1"}});
      !s.ok()) {
    std::fprintf(stderr, "test PKI: %s\n", s.ToString().c_str());
    std::abort();
  }
}

Daemons::~Daemons() {
  if (controller_pid_ > 0) launcher_.Terminate(controller_pid_, absl::Seconds(3)).IgnoreError();
  if (agent_pid_ > 0) launcher_.Terminate(agent_pid_, absl::Seconds(3)).IgnoreError();
  std::string cmd = absl::StrCat("rm -rf '", dir_, "'");
  if (std::system(cmd.c_str()) != 0) {
    // Best effort: the directory is inside the test's own TEST_TMPDIR.
  }
}

absl::StatusOr<int> Daemons::WaitPort(const std::string& file, pid_t pid) {
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    std::ifstream in(file);
    std::string line;
    int port = 0;
    if (std::getline(in, line) &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &port) && port > 0) {
      return port;
    }
    if (!launcher_.IsRunning(pid)) {
      return absl::InternalError(absl::StrCat("daemon ", pid, " exited early"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("no port in ", file));
}

absl::Status Daemons::StartAgent() {
  std::string port_file = dir_ + "/agent.port";
  unlink(port_file.c_str());
  ProcessSpec spec;
  // A restarted agent keeps its port, as a real host keeps its address.
  spec.argv = {RunfilePath("agent/emu-agent"),
               absl::StrCat("--listen=127.0.0.1:", agent_port_),
               "--host_name=" + host_, "--state_dir=" + dir_ + "/agent",
               "--token_file=" + dir_ + "/token", "--port_file=" + port_file,
               "--pki_dir=" + pki_dir()};
  auto pid = launcher_.Spawn(spec, dir_ + "/agent.log");
  if (!pid.ok()) return pid.status();
  agent_pid_ = *pid;
  auto port = WaitPort(port_file, agent_pid_);
  if (!port.ok()) {
    return absl::Status(port.status().code(),
                        absl::StrCat(port.status().message(), "\n", AgentLog()));
  }
  agent_port_ = *port;
  return absl::OkStatus();
}

absl::Status Daemons::StartController() {
  std::string port_file = dir_ + "/controller.port";
  unlink(port_file.c_str());
  ProcessSpec spec;
  spec.argv = {RunfilePath("controller/emu-controller"),
               absl::StrCat("--listen=127.0.0.1:", controller_port_),
               absl::StrCat("--agents=", host_, "=127.0.0.1:", agent_port_),
               "--db=" + dir_ + "/controller/labs.db",
               "--token_file=" + dir_ + "/token", "--port_file=" + port_file,
               "--pki_dir=" + pki_dir(), "--heartbeat=1s"};
  auto pid = launcher_.Spawn(spec, dir_ + "/controller.log");
  if (!pid.ok()) return pid.status();
  controller_pid_ = *pid;
  auto port = WaitPort(port_file, controller_pid_);
  if (!port.ok()) return port.status();
  controller_port_ = *port;
  return absl::OkStatus();
}

absl::Status Daemons::KillAgent(int signal) {
  if (agent_pid_ <= 0) return absl::OkStatus();
  if (signal == SIGKILL) {
    kill(agent_pid_, SIGKILL);
    while (launcher_.IsRunning(agent_pid_)) absl::SleepFor(absl::Milliseconds(10));
  } else {
    auto s = launcher_.Terminate(agent_pid_, absl::Seconds(5));
    if (!s.ok()) return s;
  }
  agent_pid_ = 0;
  return absl::OkStatus();
}

absl::Status Daemons::KillController(int signal) {
  if (controller_pid_ <= 0) return absl::OkStatus();
  if (signal == SIGKILL) {
    kill(controller_pid_, SIGKILL);
    while (launcher_.IsRunning(controller_pid_)) {
      absl::SleepFor(absl::Milliseconds(10));
    }
  } else {
    auto s = launcher_.Terminate(controller_pid_, absl::Seconds(5));
    if (!s.ok()) return s;
  }
  controller_pid_ = 0;
  return absl::OkStatus();
}

std::string Daemons::AgentLog() const {
  std::ifstream in(dir_ + "/agent.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<emu::v1::ControllerService::Stub> Daemons::Controller() const {
  TransportSecurity emuctl;
  emuctl.ca_pem = ControllerTransport(pki_dir()).ca_pem;
  return emu::v1::ControllerService::NewStub(
      NewChannel(emuctl, absl::StrCat("127.0.0.1:", controller_port_),
                 common::pki::kControllerName));
}

std::unique_ptr<emu::v1::AgentService::Stub> Daemons::Agent() const {
  return emu::v1::AgentService::NewStub(
      NewChannel(ControllerTransport(pki_dir()),
                 absl::StrCat("127.0.0.1:", agent_port_), host_));
}

}  // namespace emu::testing
