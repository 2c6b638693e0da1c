#include "common/netns_pids.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

namespace emu {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
// How long processes may take to vanish after SIGKILL.
constexpr absl::Duration kKillWait = absl::Seconds(5);

std::string NetnsPath(const std::string& netns_name) {
  return netns_name.find('/') == std::string::npos
             ? absl::StrCat("/run/netns/", netns_name)
             : netns_name;
}

// Sends `sig` to `pid` if it is still in the namespace identified by
// `want`. A pidfd pins the process, so a pid reused between listing and
// signalling is never hit.
void SignalIfInNetns(pid_t pid, const struct stat& want, int sig) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    if (errno == ENOSYS) kill(pid, sig);  // before Linux 5.3
    return;
  }
  struct stat ns;
  if (stat(absl::StrCat("/proc/", pid, "/ns/net").c_str(), &ns) == 0 &&
      ns.st_dev == want.st_dev && ns.st_ino == want.st_ino) {
    syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
  }
  close(pidfd);
}

// Reaps, among `pids`, the daemons this process started itself (its
// children that lead their own session, as ProcessLauncher::Spawn makes
// them), so they do not linger as zombies. Other children (a Run command in
// another thread) are left to whoever waits for them.
void ReapOurDaemons(const std::vector<pid_t>& pids) {
  const pid_t self = getpid();
  for (pid_t pid : pids) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string line;
    if (!in || !std::getline(in, line)) continue;
    size_t paren = line.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(line.substr(paren + 1));
    std::string state;
    pid_t ppid = 0, pgrp = 0, session = 0;
    if (!(fields >> state >> ppid >> pgrp >> session)) continue;
    if (ppid == self && session == pid) waitpid(pid, nullptr, WNOHANG);
  }
}

absl::StatusOr<struct stat> StatNetns(const std::string& netns_name) {
  if (netns_name.empty()) {
    return absl::InvalidArgumentError("netns pids: empty netns name");
  }
  const std::string path = NetnsPath(netns_name);
  struct stat want;
  if (stat(path.c_str(), &want) != 0) {
    return emu::ErrnoToStatus(
        errno, absl::StrCat("netns ", netns_name, ": stat ", path));
  }
  return want;
}

}  // namespace

absl::StatusOr<std::vector<pid_t>> PidsInNetns(const std::string& netns_name) {
  EMU_RETURN_IF_ERROR(StatNetns(netns_name).status());
  EMU_ASSIGN_OR_RETURN(auto found, PidsInNetnsMany({netns_name}));
  auto it = found.find(netns_name);
  if (it == found.end()) {  // removed between the two looks
    return absl::NotFoundError(
        absl::StrCat("netns ", netns_name, ": no longer exists"));
  }
  return std::move(it->second);
}

absl::StatusOr<absl::flat_hash_map<std::string, std::vector<pid_t>>>
PidsInNetnsMany(const std::vector<std::string>& netns_names) {
  absl::flat_hash_map<std::string, std::vector<pid_t>> found;
  // (device, inode) of each namespace -> its name.
  absl::flat_hash_map<std::pair<dev_t, ino_t>, std::string> names;
  for (const std::string& name : netns_names) {
    absl::StatusOr<struct stat> st = StatNetns(name);
    if (!st.ok()) {
      if (absl::IsNotFound(st.status())) continue;
      return st.status();
    }
    found[name];
    names[{st->st_dev, st->st_ino}] = name;
  }
  if (names.empty()) return found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return emu::ErrnoToStatus(errno, "netns pids: open /proc");
  }
  const pid_t self = getpid();
  while (struct dirent* e = readdir(proc)) {
    int pid;
    if (!absl::SimpleAtoi(e->d_name, &pid) || pid <= 0 || pid == self) {
      continue;
    }
    struct stat ns;
    // Fails for processes that exited meanwhile and for zombies: skip them.
    if (stat(absl::StrCat("/proc/", pid, "/ns/net").c_str(), &ns) != 0) {
      continue;
    }
    auto it = names.find(std::make_pair(ns.st_dev, ns.st_ino));
    if (it != names.end()) found[it->second].push_back(pid);
  }
  closedir(proc);
  for (auto& [name, pids] : found) std::sort(pids.begin(), pids.end());
  return found;
}

absl::Status KillPidsInNetns(const std::string& netns_name,
                             absl::Duration grace) {
  EMU_ASSIGN_OR_RETURN(struct stat want, StatNetns(netns_name));
  EMU_ASSIGN_OR_RETURN(std::vector<pid_t> pids, PidsInNetns(netns_name));
  if (pids.empty()) return absl::OkStatus();

  grace = std::max(grace, absl::ZeroDuration());
  const absl::Time escalate_at = absl::Now() + grace;
  const absl::Time give_up_at = escalate_at + kKillWait;
  absl::flat_hash_set<pid_t> terminated;  // SIGTERM goes once per process
  for (;;) {
    const bool kill_now = absl::Now() >= escalate_at;
    for (pid_t pid : pids) {
      if (kill_now) {
        SignalIfInNetns(pid, want, SIGKILL);
      } else if (terminated.insert(pid).second) {
        SignalIfInNetns(pid, want, SIGTERM);
      }
    }
    absl::SleepFor(kPollInterval);
    ReapOurDaemons(pids);
    EMU_ASSIGN_OR_RETURN(pids, PidsInNetns(netns_name));
    if (pids.empty()) return absl::OkStatus();
    if (absl::Now() >= give_up_at) break;
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "kill processes in netns ", netns_name, ": ", pids.size(),
      " still there after SIGKILL: pids ", absl::StrJoin(pids, ",")));
}

}  // namespace emu
