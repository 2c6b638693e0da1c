#include "tests/integration/emulated_hosts.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/integration/daemons.h"

namespace emu::testing {

EmulatedHosts::EmulatedHosts(std::string tag, int hosts, std::string subnet)
    : tag_(std::move(tag)), subnet_(std::move(subnet)) {
  int pid = getpid();
  bridge_ = absl::StrCat(tag_, "b", pid);
  const char* tmp = std::getenv("TEST_TMPDIR");
  dir_ = absl::StrCat(tmp ? tmp : "/tmp", "/emu-hosts-", tag_, pid);
  mkdir(dir_.c_str(), 0700);
  token_ = absl::StrCat("token-", tag_, "-", pid);
  std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << token_ << "\n";
  chmod(token_file.c_str(), 0600);
  for (int i = 0; i < hosts; ++i) {
    Host h;
    h.name = absl::StrCat(tag_, pid, "h", i + 1);
    h.netns = absl::StrCat("emut-", tag_, pid, "-h", i + 1);
    h.veth = absl::StrCat(tag_, "v", pid, "-", i + 1);
    h.address = absl::StrCat(subnet_, ".", 11 + i);
    hosts_.push_back(h);
  }
  std::map<std::string, std::string> agents;
  for (const Host& h : hosts_) agents[h.name] = h.address;
  if (absl::Status s = MakeTestPki(pki_dir(), agents); !s.ok()) {
    std::fprintf(stderr, "test PKI: %s\n", s.ToString().c_str());
    std::abort();
  }
}

EmulatedHosts::~EmulatedHosts() {
  for (auto& h : hosts_) {
    if (h.agent_pid > 0) {
      launcher_.Terminate(h.agent_pid, absl::Seconds(3)).IgnoreError();
    }
  }
  // Node namespaces the agents made and a failed test did not destroy:
  // named after our own hosts, so ours.
  if (DIR* d = opendir("/run/netns")) {
    std::vector<std::string> leftovers;
    while (dirent* e = readdir(d)) {
      for (const auto& h : hosts_) {
        if (absl::StartsWith(e->d_name, absl::StrCat("emu.", h.name, "."))) {
          leftovers.push_back(e->d_name);
        }
      }
    }
    closedir(d);
    for (const auto& ns : leftovers) Ip({"netns", "del", ns}).IgnoreError();
  }
  if (created_) {
    for (auto& h : hosts_) {
      Ip({"netns", "del", h.netns}).IgnoreError();
      Ip({"link", "del", h.veth}).IgnoreError();
    }
    Ip({"link", "del", bridge_}).IgnoreError();
  }
  std::string cmd = absl::StrCat("rm -rf '", dir_, "'");
  if (std::system(cmd.c_str()) != 0) {
    // Best effort: the directory is the test's own.
  }
}

absl::Status EmulatedHosts::Ip(std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {"ip"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  auto r = launcher_.Run(spec);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat(absl::StrJoin(spec.argv, " "),
                                            ": ", r->stderr_data));
  }
  return absl::OkStatus();
}

absl::Status EmulatedHosts::Create() {
  created_ = true;
  absl::Status s = Ip({"link", "add", bridge_, "type", "bridge"});
  if (!s.ok()) return s;
  s = Ip({"addr", "add", absl::StrCat(subnet_, ".1/24"), "dev", bridge_});
  if (!s.ok()) return s;
  s = Ip({"link", "set", bridge_, "up"});
  if (!s.ok()) return s;
  for (auto& h : hosts_) {
    for (auto args : std::vector<std::vector<std::string>>{
             {"netns", "add", h.netns},
             {"link", "add", h.veth, "type", "veth", "peer", "name", "eth0",
              "netns", h.netns},
             {"link", "set", h.veth, "master", bridge_, "up"},
             {"-n", h.netns, "addr", "add", h.address + "/24", "dev", "eth0"},
             {"-n", h.netns, "link", "set", "eth0", "up"},
             {"-n", h.netns, "link", "set", "lo", "up"}}) {
      s = Ip(args);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status EmulatedHosts::StartAgent(int i,
                                       std::vector<std::string> extra_args) {
  Host& h = hosts_[i];
  std::string hdir = absl::StrCat(dir_, "/", h.name);
  mkdir(hdir.c_str(), 0700);
  std::string port_file = hdir + "/agent.port";
  unlink(port_file.c_str());
  ProcessSpec spec;
  // The agent enters the host's network namespace but keeps our mount
  // namespace (share_mounts), as the local cluster starts it: the node
  // namespaces it bind-mounts under /run/netns must outlive it.
  spec.netns = h.netns;
  spec.share_mounts = true;
  spec.argv = {RunfilePath("agent/emu-agent"),
               "--host_name=" + h.name,
               "--listen=" + h.address + ":7471",
               "--tunnel_listen=" + TunnelAddress(i),
               "--state_dir=" + hdir + "/state",
               "--token_file=" + dir_ + "/token",
               "--port_file=" + port_file, "--pki_dir=" + pki_dir(),
               // Guest snapshots of the test's own, not the machine's cache.
               // (Its run directory stays /run/emu/guests: under
               // TEST_TMPDIR a guest's sockets' paths would be too long.)
               "--guest_snapshot_dir=" + dir_ + "/snapshots"};
  spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
  auto pid = launcher_.Spawn(spec, hdir + "/agent.log");
  if (!pid.ok()) return pid.status();
  h.agent_pid = *pid;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    std::ifstream in(port_file);
    std::string line;
    int port = 0;
    if (std::getline(in, line) &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &port) && port > 0) {
      return absl::OkStatus();
    }
    if (!launcher_.IsRunning(h.agent_pid)) {
      return absl::InternalError(
          absl::StrCat("agent of ", h.name, " exited early: ", AgentLog(i)));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat("agent of ", h.name,
                                                  " did not start"));
}

absl::Status EmulatedHosts::KillAgent(int i, int signal) {
  Host& h = hosts_[i];
  if (h.agent_pid <= 0) return absl::OkStatus();
  kill(h.agent_pid, signal);
  absl::Status s = launcher_.Terminate(h.agent_pid, absl::Seconds(3));
  h.agent_pid = 0;
  return s;
}

std::string EmulatedHosts::AgentLog(int i) const {
  std::ifstream in(absl::StrCat(dir_, "/", hosts_[i].name, "/agent.log"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<emu::v1::AgentService::Stub> EmulatedHosts::Agent(
    int i) const {
  return emu::v1::AgentService::NewStub(
      NewChannel(ControllerTransport(pki_dir()), hosts_[i].address + ":7471",
                 hosts_[i].name));
}

absl::StatusOr<ProcessResult> EmulatedHosts::RunInHost(
    int i, std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.netns = hosts_[i].netns;
  return launcher_.Run(spec);
}

}  // namespace emu::testing
