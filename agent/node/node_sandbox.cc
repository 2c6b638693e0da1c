#include "agent/node/node_sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace emu::agent::node {
namespace {

constexpr char kHolderEnv[] = "EMU_NODE_SANDBOX";

// A process that exits while its cmdline is read makes read(2) fail
// (ESRCH): that is an empty argv (the process is gone), never an
// exception. (An istreambuf_iterator lets filebuf::underflow's
// std::ios_base::failure through, which ended the agent when a scan met an
// exiting process: a 16-node lab with exec lines, bench/fidelity nemu.)
std::vector<std::string> ReadArgv(pid_t pid) {
  const std::string path = pid > 0 ? absl::StrCat("/proc/", pid, "/cmdline")
                                   : std::string("/proc/self/cmdline");
  std::string all;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      all.clear();
      break;
    }
    if (n == 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  std::vector<std::string> argv = absl::StrSplit(all, '\0');
  if (!argv.empty() && argv.back().empty()) argv.pop_back();
  return argv;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool IsZombie(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(in, line);
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() ||
         line[paren + 2] == 'Z' || line[paren + 2] == 'X';
}

}  // namespace

// --- ProcSandboxHost -------------------------------------------------------

bool ProcSandboxHost::IsHolderOf(pid_t pid, const std::string& netns) {
  if (pid <= 0) return false;
  const std::string proc = absl::StrCat("/proc/", pid);
  std::vector<std::string> argv = ReadArgv(pid);
  return argv.size() >= 3 && argv[1] == kHolderMarker && argv[2] == netns &&
         // The outer holder, not its pid 1 (same argv, the node's PID ns).
         SameFile(absl::StrCat(proc, "/ns/pid"), "/proc/self/ns/pid") &&
         SameFile(absl::StrCat(proc, "/ns/net"),
                  absl::StrCat("/run/netns/", netns)) &&
         !IsZombie(pid);
}

absl::flat_hash_map<std::string, pid_t> ProcSandboxHost::FindHolders(
    const std::vector<std::string>& netns) {
  absl::flat_hash_map<std::string, pid_t> found;
  absl::flat_hash_set<std::string> wanted(netns.begin(), netns.end());
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return found;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long pid = strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) continue;
    // The command line first: one read rules out nearly every process.
    std::vector<std::string> argv = ReadArgv(static_cast<pid_t>(pid));
    if (argv.size() < 3 || argv[1] != kHolderMarker ||
        !wanted.contains(argv[2]) || found.contains(argv[2])) {
      continue;
    }
    if (IsHolderOf(static_cast<pid_t>(pid), argv[2])) {
      found[argv[2]] = static_cast<pid_t>(pid);
    }
  }
  closedir(dir);
  return found;
}

bool ProcSandboxHost::IsReady(pid_t pid) {
  return access(absl::StrCat("/proc/", pid, "/root", kReadyMarker).c_str(),
                F_OK) == 0;
}

// --- LinuxNodeSandbox ------------------------------------------------------

absl::StatusOr<std::unique_ptr<LinuxNodeSandbox>> LinuxNodeSandbox::Create(
    ProcessLauncher* launcher, SandboxHost* host, Options options) {
  if (absl::Status s = ValidateSandboxOptions(options.sandbox); !s.ok()) {
    return s;
  }
  return std::unique_ptr<LinuxNodeSandbox>(
      new LinuxNodeSandbox(launcher, host, std::move(options)));
}

ProcessSpec LinuxNodeSandbox::HolderSpec(const std::string& netns) const {
  ProcessSpec spec;
  spec.argv = {"/proc/self/exe"};
  for (std::string& a : HolderArgv(netns, options_.sandbox)) {
    spec.argv.push_back(std::move(a));
  }
  spec.netns = netns;
  // The holder makes its own mount namespace; a private one here would
  // only be copied.
  spec.share_mounts = true;
  spec.extra_env = {absl::StrCat(kHolderEnv, "=1")};
  return spec;
}

absl::flat_hash_map<std::string, pid_t> LinuxNodeSandbox::LiveOrClaim(
    const std::vector<std::string>& netns, std::vector<std::string>* claimed) {
  absl::flat_hash_map<std::string, pid_t> live;
  std::vector<std::string> unknown;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& ns : netns) {
      while (creating_.contains(ns)) created_.Wait(&mu_);
    }
  }
  for (const std::string& ns : netns) {
    pid_t known = 0;
    {
      absl::MutexLock lock(&mu_);
      auto it = holders_.find(ns);
      if (it != holders_.end()) known = it->second;
    }
    // A holder this agent started is its child: IsRunning reaps it if it
    // died; one from before a restart is asked to /proc.
    if (known > 0 && launcher_->IsRunning(known) &&
        host_->IsHolderOf(known, ns)) {
      live[ns] = known;
    } else {
      unknown.push_back(ns);
    }
  }
  absl::flat_hash_map<std::string, pid_t> found;
  if (!unknown.empty()) found = host_->FindHolders(unknown);
  absl::MutexLock lock(&mu_);
  for (const std::string& ns : unknown) {
    if (creating_.contains(ns)) {
      // Claimed meanwhile by another caller: take what it makes.
      while (creating_.contains(ns)) created_.Wait(&mu_);
      auto it = holders_.find(ns);
      if (it != holders_.end()) live[ns] = it->second;
      continue;
    }
    auto f = found.find(ns);
    if (f != found.end()) {
      holders_[ns] = f->second;
      live[ns] = f->second;
      continue;
    }
    holders_.erase(ns);
    creating_.insert(ns);
    claimed->push_back(ns);
  }
  return live;
}

absl::Status LinuxNodeSandbox::StartHolders(const std::vector<std::string>& netns) {
  std::vector<std::pair<std::string, pid_t>> started;
  absl::Status status;
  for (const std::string& ns : netns) {
    absl::StatusOr<pid_t> pid =
        launcher_->Spawn(HolderSpec(ns), options_.log_path);
    if (!pid.ok()) {
      status.Update(absl::Status(
          pid.status().code(),
          absl::StrCat("sandbox of ", ns, ": ", pid.status().message())));
      continue;
    }
    started.emplace_back(ns, *pid);
  }
  // All start together; each is waited for with the same deadline.
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  std::vector<std::pair<std::string, pid_t>> ready;
  for (const auto& [ns, pid] : started) {
    for (;;) {
      if (host_->IsReady(pid)) {
        ready.emplace_back(ns, pid);
        break;
      }
      if (!launcher_->IsRunning(pid)) {
        status.Update(absl::InternalError(absl::StrCat(
            "sandbox of ", ns, ": its holder (pid ", pid,
            ") ended while setting up; its reason is in ", options_.log_path)));
        break;
      }
      if (absl::Now() >= deadline) {
        status.Update(absl::DeadlineExceededError(absl::StrCat(
            "sandbox of ", ns, ": its holder (pid ", pid, ") not ready after ",
            absl::FormatDuration(options_.ready_timeout), "; see ",
            options_.log_path)));
        launcher_->Terminate(pid, absl::ZeroDuration()).IgnoreError();
        break;
      }
      absl::SleepFor(options_.poll);
    }
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [ns, pid] : ready) holders_[ns] = pid;
  for (const std::string& ns : netns) creating_.erase(ns);
  created_.SignalAll();
  return status;
}

absl::Status LinuxNodeSandbox::EnsureAll(const std::vector<std::string>& netns) {
  std::vector<std::string> missing;
  LiveOrClaim(netns, &missing);
  if (missing.empty()) return absl::OkStatus();
  return StartHolders(missing);
}

absl::StatusOr<pid_t> LinuxNodeSandbox::Ensure(const std::string& netns) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<std::string> missing;
    auto live = LiveOrClaim({netns}, &missing);
    if (auto it = live.find(netns); it != live.end()) return it->second;
    if (missing.empty()) continue;  // another caller's creation failed
    if (absl::Status s = StartHolders(missing); !s.ok()) return s;
  }
  return absl::UnavailableError(
      absl::StrCat("sandbox of ", netns, ": no holder after creating one"));
}

// --- The holder --------------------------------------------------------------
//
// Runs in a fresh exec of this program, single-threaded, before main(). The
// outer process makes the node's mount and PID namespaces and forks their
// init; the init sets the mounts up, says it is ready, drops every
// capability and reaps orphans until it is told to end. The outer one
// stays as the holder the agent knows (it is in this PID namespace, so
// commands can join /proc/HOLDER/ns/{mnt,pid_for_children}); when it dies
// the init gets SIGKILL, which ends every process in the node.

namespace {

// mount_setattr(2) (Linux 5.12): <linux/mount.h> clashes with glibc's
// <sys/mount.h>, so the two constants and the struct are spelled here.
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrReadOnly = 0x1;
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

[[noreturn]] void HolderFail(const std::string& netns, const std::string& what,
                             int err) {
  fprintf(stderr, "emu-node-sandbox %s: %s: %s\n", netns.c_str(), what.c_str(),
          strerror(err));
  fflush(stderr);
  _exit(1);
}

// One step; false (errno set) on failure. Optional steps whose target is
// missing succeed without doing anything.
bool ApplyStep(const MountStep& s) {
  using K = MountStep::Kind;
  struct stat st;
  if (s.optional && lstat(s.target.c_str(), &st) != 0) return true;
  switch (s.kind) {
    case K::kPrivateTree:
      return mount(nullptr, s.target.c_str(), nullptr, MS_REC | MS_PRIVATE,
                   nullptr) == 0;
    case K::kReadOnlyTree: {
      MountAttr attr{kMountAttrReadOnly, 0, 0, 0};
      return syscall(SYS_mount_setattr, AT_FDCWD, s.target.c_str(),
                     AT_RECURSIVE, &attr, sizeof(attr)) == 0;
    }
    case K::kMount:
      return mount(s.source.c_str(), s.target.c_str(), s.fstype.c_str(),
                   s.flags, s.data.empty() ? nullptr : s.data.c_str()) == 0;
    case K::kBind:
      // The bind copies the source mount's flags; the remount sets ours.
      return mount(s.source.c_str(), s.target.c_str(), nullptr,
                   MS_BIND | MS_REC, nullptr) == 0 &&
             mount(nullptr, s.target.c_str(), nullptr,
                   MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                       (s.read_only ? MS_RDONLY : 0),
                   nullptr) == 0;
    case K::kMkdir:
      return mkdir(s.target.c_str(), s.mode) == 0 || errno == EEXIST;
    case K::kMknod:
      return mknod(s.target.c_str(), S_IFCHR | s.mode,
                   makedev(s.major, s.minor)) == 0;
    case K::kSymlink:
      return symlink(s.source.c_str(), s.target.c_str()) == 0;
    case K::kMask: {
      if (stat(s.target.c_str(), &st) != 0) return true;
      if (S_ISDIR(st.st_mode)) {
        return mount("tmpfs", s.target.c_str(), "tmpfs",
                     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                     "mode=755,size=4k") == 0;
      }
      return mount("/dev/null", s.target.c_str(), nullptr, MS_BIND, nullptr) ==
                 0 &&
             mount(nullptr, s.target.c_str(), nullptr,
                   MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
                       MS_NOEXEC,
                   nullptr) == 0;
    }
  }
  errno = EINVAL;
  return false;
}

const char* KindName(MountStep::Kind kind) {
  using K = MountStep::Kind;
  switch (kind) {
    case K::kPrivateTree: return "make private";
    case K::kReadOnlyTree: return "make read-only";
    case K::kMount: return "mount";
    case K::kBind: return "bind";
    case K::kMkdir: return "mkdir";
    case K::kMknod: return "mknod";
    case K::kSymlink: return "symlink";
    case K::kMask: return "mask";
  }
  return "step";
}

// The node's init (pid 1 of its PID namespace).
[[noreturn]] void RunInit(const HolderArgs& args) {
  // The outer holder's death ends the node.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  umask(0);
  for (const MountStep& s : BuildSandboxMounts(args.options)) {
    if (!ApplyStep(s)) {
      HolderFail(args.netns, absl::StrCat(KindName(s.kind), " ", s.target),
                 errno);
    }
  }
  umask(022);
  if (chdir("/") != 0) HolderFail(args.netns, "chdir /", errno);
  const int marker = open(kReadyMarker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (marker < 0) HolderFail(args.netns, kReadyMarker, errno);
  close(marker);
  // Nothing privileged stays in the node: the init needs no capability to
  // reap, and node commands (which may signal or trace it) gain none.
  for (int cap = 0; cap < 64; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct none[2] = {};
  syscall(SYS_capset, &header, none);
  for (;;) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    siginfo_t info;
    const int sig = sigwaitinfo(&set, &info);
    if (sig == SIGTERM || sig == SIGINT) _exit(0);
  }
}

[[noreturn]] void RunHolder() {
  std::vector<std::string> argv = ReadArgv(0);
  if (!argv.empty()) argv.erase(argv.begin());
  absl::StatusOr<HolderArgs> args = ParseHolderArgv(argv);
  if (!args.ok()) {
    fprintf(stderr, "%s\n", std::string(args.status().message()).c_str());
    _exit(2);
  }
  if (unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) {
    HolderFail(args->netns, "unshare mount and PID namespaces", errno);
  }
  const pid_t init = fork();
  if (init < 0) HolderFail(args->netns, "fork the node's init", errno);
  if (init == 0) RunInit(*args);
  // SIGTERM (the agent's Terminate, the reconciler's kill) ends this
  // process and with it the init; nothing else to do but wait.
  int st = 0;
  while (waitpid(init, &st, 0) < 0 && errno == EINTR) {
  }
  _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

}  // namespace

bool RunNodeSandboxHolderIfAsked() {
  const char* v = getenv(kHolderEnv);
  if (v == nullptr || strcmp(v, "1") != 0) return false;
  unsetenv(kHolderEnv);
  RunHolder();
}

namespace {
[[maybe_unused]] const bool kRanAsHolder = RunNodeSandboxHolderIfAsked();
}  // namespace

}  // namespace emu::agent::node
