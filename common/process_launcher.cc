#include "common/process_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/errno_status.h"
#include "common/status_macros.h"

extern char** environ;

namespace emu {
namespace {

using SteadyClock = std::chrono::steady_clock;

// How long Run keeps reading after its command exited, for output still in
// the pipes or written by processes the command left behind.
constexpr auto kDrainGrace = std::chrono::milliseconds(100);
// Poll interval when the kernel has no pidfd_open (before Linux 5.3).
constexpr auto kReapPollInterval = std::chrono::milliseconds(10);
constexpr size_t kIoChunk = 64 * 1024;

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Takes ownership of `fd` and returns it (or a CLOEXEC duplicate) numbered 3
// or above, so the child's dup2 onto 0..2 never meets one of its own sources
// (a daemon started with stdin closed gets 0 from pipe2).
absl::StatusOr<Fd> AboveStdio(int fd, absl::string_view what) {
  if (fd < 0) return emu::ErrnoToStatus(errno, what);
  Fd owned(fd);
  if (fd > 2) return owned;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return emu::ErrnoToStatus(errno, what);
  return Fd(moved);
}

absl::Status MakePipe(Fd* read_end, Fd* write_end, absl::string_view what) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return emu::ErrnoToStatus(errno, what);
  Fd r(p[0]), w(p[1]);
  EMU_ASSIGN_OR_RETURN(*read_end, AboveStdio(r.Release(), what));
  EMU_ASSIGN_OR_RETURN(*write_end, AboveStdio(w.Release(), what));
  return absl::OkStatus();
}

absl::Status SetNonBlocking(int fd, absl::string_view what) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return emu::ErrnoToStatus(errno, what);
  }
  return absl::OkStatus();
}

absl::StatusOr<Fd> OpenNetns(const std::string& netns) {
  std::string path = netns.find('/') == std::string::npos
                         ? absl::StrCat("/run/netns/", netns)
                         : netns;
  return AboveStdio(open(path.c_str(), O_RDONLY | O_CLOEXEC),
                    absl::StrCat("open netns ", path));
}

// Where the child failed before it became the command.
enum class ChildStage : int32_t {
  kSetns = 1,
  kMountNamespace,
  kSysfs,
  kSandbox,
  kSandboxFork,
  kCapabilities,
  kChdir,
  kStdio,
  kExec,
};

const char* StageName(ChildStage stage) {
  switch (stage) {
    case ChildStage::kSetns:
      return "setns";
    case ChildStage::kMountNamespace:
      return "private mount namespace";
    case ChildStage::kSysfs:
      return "mount /sys";
    case ChildStage::kSandbox:
      return "enter the node sandbox";
    case ChildStage::kSandboxFork:
      return "fork into the node sandbox (its holder is gone?)";
    case ChildStage::kCapabilities:
      return "drop capabilities";
    case ChildStage::kChdir:
      return "chdir";
    case ChildStage::kStdio:
      return "dup2 stdio";
    case ChildStage::kExec:
      return "exec";
  }
  return "child setup";
}

// Sent by the child through a CLOEXEC pipe; the pipe just closes when exec
// succeeds.
// What the child writes to the exec status pipe: a failure (stage != 0),
// or, for ProcessSpec::start_at, stage 0 with the wall time it woke to exec.
struct ChildError {
  int32_t stage;
  int32_t err;
  int64_t started_us;
  int64_t late_us;  // how long after start_at it was ready (0: it waited)
};

// ChildError::stage of a prepared process that waits for its command.
constexpr int32_t kReadyStage = -1;

// Everything the child needs, built before fork(): in a multithreaded
// process the child may only call async-signal-safe functions, so no
// allocation happens after fork.
struct ChildPlan {
  std::vector<std::string> argv_storage;
  std::vector<char*> argv;
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  std::string cwd;            // empty = inherit
  int netns_fd = -1;          // -1 = stay in the caller's namespace
  std::string netns_label;    // sysfs mount source, for /proc/mounts readers
  bool share_mounts = false;  // keep the caller's mount namespace
  // ProcessSpec::sandbox_holder's namespaces ("" = no sandbox) and caps.
  std::string sandbox_pidns_path;
  std::string sandbox_mntns_path;
  pid_t sandbox_holder = 0;
  uint64_t sandbox_caps = 0;
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool new_session = false;   // setsid (daemon) instead of setpgid
  int max_fd = 1024;          // close_range fallback bound
  bool has_start_at = false;  // exec only at start_at (CLOCK_REALTIME)
  struct timespec start_at = {0, 0};
};

// How far the close_range() fallback closes descriptors: the soft
// RLIMIT_NOFILE, at most 2^20 (1024 when it cannot be read or is infinite).
int DescriptorBound() {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    return static_cast<int>(std::min<rlim_t>(lim.rlim_cur, 1 << 20));
  }
  return 1024;
}

void SetSandbox(pid_t holder, uint64_t caps, ChildPlan* plan) {
  plan->sandbox_holder = holder;
  plan->sandbox_caps = caps;
  if (holder <= 0) return;
  plan->sandbox_pidns_path = absl::StrCat("/proc/", holder, "/ns/pid_for_children");
  plan->sandbox_mntns_path = absl::StrCat("/proc/", holder, "/ns/mnt");
}

absl::Status FillPlan(const ProcessSpec& spec, ChildPlan* plan) {
  if (spec.sandbox_holder > 0 && spec.netns.empty()) {
    return absl::InvalidArgumentError(
        "a node sandbox needs the network namespace of its holder (netns)");
  }
  plan->argv_storage = spec.argv;
  for (std::string& a : plan->argv_storage) plan->argv.push_back(a.data());
  plan->argv.push_back(nullptr);

  absl::flat_hash_set<std::string> overridden;
  for (const std::string& e : spec.extra_env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment entry \"", e, "\": want KEY=VALUE"));
    }
    overridden.insert(e.substr(0, eq));
  }
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    absl::string_view entry(*e);
    if (overridden.contains(entry.substr(0, entry.find('=')))) continue;
    plan->env_storage.emplace_back(entry);
  }
  for (const std::string& e : spec.extra_env) plan->env_storage.push_back(e);
  for (std::string& e : plan->env_storage) plan->envp.push_back(e.data());
  plan->envp.push_back(nullptr);

  plan->cwd = spec.cwd;
  plan->netns_label = spec.netns;
  plan->share_mounts = spec.share_mounts;
  SetSandbox(spec.sandbox_holder, spec.sandbox_caps, plan);
  if (spec.start_at != absl::InfinitePast()) {
    plan->has_start_at = true;
    plan->start_at = absl::ToTimespec(spec.start_at);
  }
  plan->max_fd = DescriptorBound();
  return absl::OkStatus();
}

[[noreturn]] void ChildFail(int error_fd, ChildStage stage, int err) {
  ChildError e{static_cast<int32_t>(stage), err, 0, 0};
  ssize_t unused = write(error_fd, &e, sizeof(e));
  (void)unused;
  _exit(127);
}

void CloseFrom(unsigned first, unsigned last, int max_fd) {
  if (first > last) return;
  if (syscall(SYS_close_range, first, last, 0) == 0) return;
  for (unsigned fd = first; fd <= last && fd < static_cast<unsigned>(max_fd);
       ++fd) {
    close(static_cast<int>(fd));
  }
}

// Closes every descriptor from 3 up except `keep_a` and `keep_b` (-1: none).
void CloseAllBut(int keep_a, int keep_b, int max_fd) {
  int keep[2] = {std::min(keep_a, keep_b), std::max(keep_a, keep_b)};
  unsigned next = 3;
  for (int k : keep) {
    if (k < static_cast<int>(next)) continue;
    CloseFrom(next, static_cast<unsigned>(k) - 1, max_fd);
    next = static_cast<unsigned>(k) + 1;
  }
  CloseFrom(next, ~0U, max_fd);
}

// Keeps only `keep` (bit i = capability i) in the bounding set and clears
// the ambient set: what an exec'd program (root's too) can hold at most.
// The process's own sets are untouched (LimitCapabilities), so it may still
// wait for its instant under SCHED_FIFO. Async-signal-safe.
bool DropBoundingSet(uint64_t keep) {
  for (int cap = 0; cap < 64; ++cap) {
    if ((keep >> cap) & 1) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return false;  // EINVAL: no such capability in this kernel
    }
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  return true;
}

// Keeps only `keep` in the permitted, effective and inheritable sets: one
// system call, made right before the exec. Async-signal-safe.
bool LimitCapabilities(uint64_t keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) != 0) return false;
  for (int i = 0; i < 2; ++i) {
    const auto mask = static_cast<uint32_t>(keep >> (32 * i));
    data[i].effective &= mask;
    data[i].permitted &= mask;
    data[i].inheritable &= mask;
  }
  return syscall(SYS_capset, &header, data) == 0;
}

// After setns into a sandbox's PID namespace only this process's children
// are in it: the process forks, its child goes on to the command (without
// the capabilities the sandbox withholds) and this process stays outside as
// the waiter ProcessSpec::sandbox_holder describes. The command's own
// capabilities go just before its exec (ExecAtInstant): with CAP_SYS_NICE
// dropped here, a prepared command would wait for its instant under
// SCHED_OTHER and start milliseconds late on a busy host. Async-signal-safe.
void EnterSandboxPids(const ChildPlan& p, int error_fd, int keep_fd) {
  // Not fork(): no atfork handlers of the (multithreaded) parent program.
  const long child = syscall(SYS_clone, SIGCHLD, 0L, 0L, 0L, 0L);
  if (child < 0) ChildFail(error_fd, ChildStage::kSandboxFork, errno);
  if (child == 0) {
    if (!DropBoundingSet(p.sandbox_caps)) {
      ChildFail(error_fd, ChildStage::kCapabilities, errno);
    }
    return;
  }
  // The waiter holds none of the command's pipes, so their readers see EOF
  // when the command (and what it left behind) closes them.
  close(error_fd);
  if (keep_fd >= 0) close(keep_fd);
  const int null_fd = open("/dev/null", O_RDWR);
  for (int fd = 0; fd <= 2; ++fd) {
    if (null_fd >= 0) dup2(null_fd, fd);
  }
  if (null_fd > 2) close(null_fd);
  int st = 0;
  while (waitpid(static_cast<pid_t>(child), &st, 0) < 0) {
    if (errno != EINTR) _exit(127);
  }
  if (WIFSIGNALED(st)) _exit(128 + WTERMSIG(st));
  _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 255);
}

// The child side of fork() up to the exec: signals, process group,
// namespaces, cwd, stdio, descriptors (all closed but `error_fd` and
// `keep_fd`). Async-signal-safe calls only.
void SetUpChild(const ChildPlan& p, int error_fd, int keep_fd) {
  // Signal state is inherited across exec: give the command a clean one
  // whatever the calling thread had blocked or ignored (SIGPIPE above all).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }

  if (p.new_session) {
    setsid();
  } else {
    setpgid(0, 0);
  }

  if (p.netns_fd >= 0) {
    if (setns(p.netns_fd, CLONE_NEWNET) != 0) {
      ChildFail(error_fd, ChildStage::kSetns, errno);
    }
  }
  if (p.sandbox_holder > 0) {
    // Both opened before either setns: joining the mount namespace changes
    // what /proc is.
    const int pidns = open(p.sandbox_pidns_path.c_str(), O_RDONLY | O_CLOEXEC);
    const int mntns = open(p.sandbox_mntns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (pidns < 0 || mntns < 0) ChildFail(error_fd, ChildStage::kSandbox, errno);
    if (setns(pidns, CLONE_NEWPID) != 0 || setns(mntns, CLONE_NEWNS) != 0) {
      ChildFail(error_fd, ChildStage::kSandbox, errno);
    }
    close(pidns);
    close(mntns);
  } else if (p.netns_fd >= 0 && !p.share_mounts) {
    // As `ip netns exec`: a private mount namespace whose /sys belongs to
    // the new network namespace, so /sys/class/net lists its interfaces.
    if (unshare(CLONE_NEWNS) != 0 ||
        mount("", "/", "none", MS_SLAVE | MS_REC, nullptr) != 0) {
      ChildFail(error_fd, ChildStage::kMountNamespace, errno);
    }
    unsigned long flags = 0;
    struct statvfs fs;
    if (statvfs("/sys", &fs) == 0 && (fs.f_flag & ST_RDONLY)) {
      flags = MS_RDONLY;
    }
    umount2("/sys", MNT_DETACH);  // fails when nothing is mounted there: fine
    if (mount(p.netns_label.c_str(), "/sys", "sysfs", flags, nullptr) != 0) {
      ChildFail(error_fd, ChildStage::kSysfs, errno);
    }
  }

  if (!p.cwd.empty() && chdir(p.cwd.c_str()) != 0) {
    ChildFail(error_fd, ChildStage::kChdir, errno);
  }
  if (dup2(p.stdin_fd, 0) < 0 || dup2(p.stdout_fd, 1) < 0 ||
      dup2(p.stderr_fd, 2) < 0) {
    ChildFail(error_fd, ChildStage::kStdio, errno);
  }
  // Nothing else of the parent's leaks into the command, also descriptors
  // other threads opened without O_CLOEXEC.
  CloseAllBut(error_fd, keep_fd, p.max_fd);
  if (p.sandbox_holder > 0) EnterSandboxPids(p, error_fd, keep_fd);
}

// The child's last step: waits for the start instant if it has one, then
// execs. Async-signal-safe calls only.
[[noreturn]] void ExecAtInstant(const ChildPlan& p, int error_fd) {
  if (p.has_start_at) {
    // Everything above (fork, namespaces) is done before the instant; only
    // the exec is left for it. The wait is real-time (where allowed), so a
    // busy host still wakes the command at the instant; the command itself
    // runs with the normal policy.
    struct sched_param rt = {};
    rt.sched_priority = 1;
    const bool raised = sched_setscheduler(0, SCHED_FIFO, &rt) == 0;
    struct timespec ready;
    clock_gettime(CLOCK_REALTIME, &ready);
    const int64_t late_ns =
        (static_cast<int64_t>(ready.tv_sec) - p.start_at.tv_sec) * 1000000000 +
        (ready.tv_nsec - p.start_at.tv_nsec);
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &p.start_at,
                           nullptr) == EINTR) {
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (raised) {
      struct sched_param normal = {};
      sched_setscheduler(0, SCHED_OTHER, &normal);
    }
    ChildError started{
        0, 0, static_cast<int64_t>(now.tv_sec) * 1000000 + now.tv_nsec / 1000,
        late_ns > 0 ? late_ns / 1000 : 0};
    ssize_t unused = write(error_fd, &started, sizeof(started));
    (void)unused;
  }
  if (p.sandbox_holder > 0 && !LimitCapabilities(p.sandbox_caps)) {
    ChildFail(error_fd, ChildStage::kCapabilities, errno);
  }
  execvpe(p.argv[0], p.argv.data(), p.envp.data());
  ChildFail(error_fd, ChildStage::kExec, errno);
}

[[noreturn]] void RunChild(const ChildPlan& p, int error_fd) {
  SetUpChild(p, error_fd, -1);
  ExecAtInstant(p, error_fd);
}

struct Started {
  pid_t pid = -1;
  std::optional<ChildError> error;  // set when the child never exec'd
  int64_t started_us = 0;           // ProcessSpec::start_at: when it woke
  int64_t late_us = 0;              // ... and how late it was ready
};

// Reads the child's status records until exec succeeded (EOF) or failed
// (a record with a stage). A child that failed is reaped here.
Started ReadStarted(int err_r, pid_t pid) {
  Started started;
  started.pid = pid;
  ChildError e;
  ssize_t n;
  for (;;) {
    do {
      n = read(err_r, &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof(e)) || e.stage != 0) break;
    started.started_us = e.started_us;  // then EOF, or an exec failure
    started.late_us = e.late_us;
  }
  if (n == static_cast<ssize_t>(sizeof(e))) {
    started.error = e;
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  return started;
}

// Forks and execs `plan`; waits only until exec succeeded or failed. A child
// that failed is reaped here.
absl::StatusOr<Started> StartChild(const ChildPlan& plan,
                                   absl::string_view context) {
  Fd err_r, err_w;
  EMU_RETURN_IF_ERROR(
      MakePipe(&err_r, &err_w, absl::StrCat(context, ": exec status pipe")));
  pid_t pid = fork();
  if (pid < 0) {
    return emu::ErrnoToStatus(errno, absl::StrCat(context, ": fork"));
  }
  if (pid == 0) RunChild(plan, err_w.get());

  // Also set from this side, so a kill(-pid) right after fork cannot miss.
  if (!plan.new_session) setpgid(pid, pid);
  err_w.Reset();
  return ReadStarted(err_r.get(), pid);
}

// write() that turns a closed reader into EPIPE without raising SIGPIPE in
// this process (the signal is thread-directed: block it here, consume it).
ssize_t WriteWithoutSigpipe(int fd, const char* data, size_t n) {
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  ssize_t r = write(fd, data, n);
  int saved = errno;
  if (r < 0 && saved == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = saved;
  return r;
}

int ExitCodeOf(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

std::string Context(absl::string_view verb, const ProcessSpec& spec) {
  std::string c = absl::StrCat(verb, " ", spec.argv[0]);
  if (!spec.netns.empty()) absl::StrAppend(&c, " in netns ", spec.netns);
  return c;
}

// True when /proc shows `pid` as a live (not zombie) process.
bool AliveInProc(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!stat || !std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return false;
  char state = line[paren + 2];
  return state != 'Z' && state != 'X' && state != 'x';
}

// The descriptors a Run() child gets: its namespace, stdin, stdout and
// stderr (the child's ends and ours).
struct ChildIo {
  Fd netns_fd;
  Fd in_r, in_w, out_r, out_w, err_r, err_w;
};

absl::StatusOr<ChildIo> OpenChildIo(const ProcessSpec& spec,
                                    const std::string& context) {
  ChildIo io;
  if (!spec.netns.empty()) {
    auto fd = OpenNetns(spec.netns);
    if (!fd.ok()) return Annotate(fd.status(), context);
    io.netns_fd = *std::move(fd);
  }
  if (spec.stdin_data.empty()) {
    EMU_ASSIGN_OR_RETURN(io.in_r,
                         AboveStdio(open("/dev/null", O_RDONLY | O_CLOEXEC),
                                    absl::StrCat(context, ": open /dev/null")));
  } else {
    EMU_RETURN_IF_ERROR(
        MakePipe(&io.in_r, &io.in_w, absl::StrCat(context, ": stdin pipe")));
  }
  EMU_RETURN_IF_ERROR(
      MakePipe(&io.out_r, &io.out_w, absl::StrCat(context, ": stdout pipe")));
  EMU_RETURN_IF_ERROR(
      MakePipe(&io.err_r, &io.err_w, absl::StrCat(context, ": stderr pipe")));
  return io;
}

void KillGroupAndReap(pid_t pid) {
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// A started Run() child until it has exited and its output is drained:
// feeds stdin, collects stdout/stderr (bounded), kills the process group at
// the deadline. One poll() loop; each step is one method. Single-threaded.
class ChildSupervisor {
 public:
  ChildSupervisor(const ProcessSpec& spec, pid_t pid, ChildIo* io,
                  SteadyClock::time_point steady_start, ProcessResult* result)
      : spec_(spec),
        pid_(pid),
        io_(io),
        result_(result),
        pidfd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))),
        deadline_(spec.timeout == absl::InfiniteDuration()
                      ? SteadyClock::time_point::max()
                      : steady_start + absl::ToChronoNanoseconds(spec.timeout)),
        buffer_(kIoChunk, '\0') {}

  // Runs to the end; the exit code and output land in the result.
  void Run() {
    for (;;) {
      ReapIfExited();
      if (exited_ && !io_->out_r.valid() && !io_->err_r.valid()) break;
      const auto now = SteadyClock::now();
      if (exited_ && now >= drain_until_) break;
      if (!exited_ && !killed_ && now >= deadline_) {
        KillGroup();
        result_->timed_out = true;
        continue;
      }
      PollOnce(now);
    }
    result_->exit_code = status_lost_ ? -1 : ExitCodeOf(wstatus_);
  }

 private:
  void ReapIfExited() {
    if (exited_) return;
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      exited_ = true;
      status_lost_ = r < 0;  // someone else reaped it
      wstatus_ = st;
      drain_until_ = SteadyClock::now() + kDrainGrace;
      pidfd_.Reset();
    }
  }

  // The whole group: a shell's children die with it.
  void KillGroup() {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    killed_ = true;
  }

  // When poll() must return at the latest: the deadline, the end of the
  // drain after exit, or the next waitpid() when there is no pidfd.
  int PollTimeoutMs(SteadyClock::time_point now) const {
    SteadyClock::time_point wake = SteadyClock::time_point::max();
    if (exited_) {
      wake = drain_until_;
    } else {
      if (!killed_) wake = deadline_;
      if (!pidfd_.valid()) wake = std::min(wake, now + kReapPollInterval);
    }
    if (wake == SteadyClock::time_point::max()) return -1;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
    return static_cast<int>(
        std::clamp<int64_t>(left.count(), 0, 24 * 3600 * 1000));
  }

  void PollOnce(SteadyClock::time_point now) {
    pollfd fds[4];
    int nfds = 0;
    int in_idx = -1, out_idx = -1, err_idx = -1;
    if (io_->in_w.valid()) {
      in_idx = nfds;
      fds[nfds++] = {io_->in_w.get(), POLLOUT, 0};
    }
    if (io_->out_r.valid()) {
      out_idx = nfds;
      fds[nfds++] = {io_->out_r.get(), POLLIN, 0};
    }
    if (io_->err_r.valid()) {
      err_idx = nfds;
      fds[nfds++] = {io_->err_r.get(), POLLIN, 0};
    }
    // A pidfd wakes poll() when the command exits; without one, poll in
    // short steps and ask waitpid.
    if (pidfd_.valid()) fds[nfds++] = {pidfd_.get(), POLLIN, 0};
    int ready = poll(fds, nfds, PollTimeoutMs(now));
    if (ready < 0) {
      if (errno == EINTR) return;
      // Cannot happen with valid descriptors; do not spin.
      if (!exited_ && !killed_) KillGroup();
      return;
    }
    if (in_idx >= 0 && fds[in_idx].revents != 0) WriteStdin();
    if (out_idx >= 0 && fds[out_idx].revents != 0) {
      ReadInto(&io_->out_r, &result_->stdout_data);
    }
    if (err_idx >= 0 && fds[err_idx].revents != 0) {
      ReadInto(&io_->err_r, &result_->stderr_data);
    }
  }

  void WriteStdin() {
    size_t left = spec_.stdin_data.size() - stdin_offset_;
    ssize_t n = WriteWithoutSigpipe(io_->in_w.get(),
                                    spec_.stdin_data.data() + stdin_offset_,
                                    std::min(left, kIoChunk));
    if (n > 0) {
      stdin_offset_ += static_cast<size_t>(n);
      if (stdin_offset_ == spec_.stdin_data.size()) io_->in_w.Reset();
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      io_->in_w.Reset();  // EPIPE: the command does not read all of its stdin
    }
  }

  // Output beyond spec.max_output_bytes is read and dropped (the child must
  // not block on a full pipe), and the result says it was truncated.
  void ReadInto(Fd* fd, std::string* dst) {
    ssize_t n = read(fd->get(), buffer_.data(), buffer_.size());
    if (n > 0) {
      size_t take = static_cast<size_t>(n);
      size_t room = spec_.max_output_bytes > dst->size()
                        ? spec_.max_output_bytes - dst->size()
                        : 0;
      if (take > room) {
        result_->output_truncated = true;
        take = room;
      }
      dst->append(buffer_.data(), take);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      fd->Reset();
    }
  }

  const ProcessSpec& spec_;
  const pid_t pid_;
  ChildIo* const io_;
  ProcessResult* const result_;
  Fd pidfd_;
  const SteadyClock::time_point deadline_;
  std::string buffer_;
  size_t stdin_offset_ = 0;
  bool exited_ = false;
  bool killed_ = false;
  bool status_lost_ = false;
  int wstatus_ = 0;
  SteadyClock::time_point drain_until_;
};


// The checks Run and PreparedProcess::Run make on a command.
absl::Status CheckCommand(const ProcessSpec& spec, const std::string& context,
                          absl::string_view verb) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(verb, ": empty argv"));
  }
  if (spec.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": timeout must be positive"));
  }
  return absl::OkStatus();
}

// A started Run() child (or one that failed to exec) to its end: the
// result, with the start as the child measured it when it waited for an
// instant. `io` holds only the parent's ends.
absl::StatusOr<ProcessResult> Supervise(const ProcessSpec& spec,
                                        const std::string& context,
                                        const Started& started, ChildIo* io,
                                        absl::Time before,
                                        SteadyClock::time_point steady_start) {
  ProcessResult result;
  result.start = before;
  if (started.started_us > 0) {
    result.start = absl::FromUnixMicros(started.started_us);
    result.start_late = absl::Microseconds(started.late_us);
    steady_start = SteadyClock::now();  // the timeout counts from the exec
  }
  if (started.error.has_value()) {
    auto stage = static_cast<ChildStage>(started.error->stage);
    if (stage != ChildStage::kExec) {
      return emu::ErrnoToStatus(started.error->err,
                                absl::StrCat(context, ": ", StageName(stage)));
    }
    result.exit_code = 127;
    result.stderr_data = absl::StrCat("exec ", spec.argv[0], ": ",
                                      std::strerror(started.error->err));
    result.end = absl::Now();
    return result;
  }
  if (spec.on_started) spec.on_started(started.pid);
  for (Fd* fd : {&io->in_w, &io->out_r, &io->err_r}) {
    if (!fd->valid()) continue;
    absl::Status s = SetNonBlocking(fd->get(), context);
    if (!s.ok()) {
      KillGroupAndReap(started.pid);
      return s;
    }
  }
  ChildSupervisor(spec, started.pid, io, steady_start, &result).Run();
  result.end = absl::Now();
  return result;
}

// What the parent writes to a prepared child: the instant, then `bytes`
// bytes holding `argc` NUL-terminated strings.
struct PreparedCommandHeader {
  int64_t start_sec;
  int64_t start_nsec;
  int32_t has_start_at;
  uint32_t argc;
  uint32_t bytes;
};

// Reads exactly `n` bytes; false on EOF or error. Async-signal-safe.
bool ReadFull(int fd, char* dst, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, dst, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    dst += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// The prepared child: set up as for Run, say it is ready, wait for the
// command, exec it at its instant. The parent dropping the command pipe
// without a command ends it. Async-signal-safe calls only; `p` and
// `argv_buffer` are this process's own copies, sized before the fork.
[[noreturn]] void RunPreparedChild(ChildPlan* p, char* argv_buffer,
                                   int error_fd, int control_fd) {
  SetUpChild(*p, error_fd, control_fd);
  ChildError ready{kReadyStage, 0, 0, 0};
  if (write(error_fd, &ready, sizeof(ready)) != sizeof(ready)) _exit(0);
  PreparedCommandHeader h;
  if (!ReadFull(control_fd, reinterpret_cast<char*>(&h), sizeof(h)) ||
      h.argc == 0 || h.argc > PosixProcessLauncher::kMaxPreparedArgs ||
      h.bytes > PosixProcessLauncher::kMaxPreparedArgvBytes ||
      !ReadFull(control_fd, argv_buffer, h.bytes)) {
    _exit(0);
  }
  close(control_fd);
  uint32_t argc = 0;
  size_t at = 0;
  while (argc < h.argc && at < h.bytes) {
    p->argv[argc++] = argv_buffer + at;
    while (at < h.bytes && argv_buffer[at] != '\0') ++at;
    ++at;
  }
  p->argv[argc] = nullptr;
  p->has_start_at = h.has_start_at != 0;
  p->start_at.tv_sec = static_cast<time_t>(h.start_sec);
  p->start_at.tv_nsec = static_cast<long>(h.start_nsec);
  ExecAtInstant(*p, error_fd);
}

// ---------------------------------------------------------------------------
// The prepare server.
//
// Forking the calling program (an agent: many threads, a large heap) for
// every prepared process copies its page tables, and the exec that follows
// tears that copy down again; on these machines that is several ms per
// command, most of a one-host Task's round. So Prepare asks a small process
// to create them: the calling program itself, exec'd again from
// /proc/self/exe as "emu-prepare-server" with kPrepareServerEnv naming its
// socket, which serves requests from a static initializer of this file
// before the program's main() runs (so every program that links the
// launcher has it, without a line in its main). It clones each prepared
// process with CLONE_PARENT: the process is the caller's child, as after a
// fork (waitpid, pidfd, process groups, SIGCHLD all as before), but is made
// from, and execs away, the server's small address space. The server ends
// when the caller's end of its socket closes (the caller exited). When it
// cannot be started or keeps dying, Prepare forks in the caller as before.

constexpr char kPrepareServerEnv[] = "EMU_PREPARE_SERVER_FD";
constexpr char kPrepareServerName[] = "emu-prepare-server";
// A request: this header, then env_bytes of NUL-terminated environment
// entries, cwd_bytes of the working directory, label_bytes of the netns
// label; with the descriptors below (SCM_RIGHTS), netns last if any.
struct PrepareRequestHeader {
  uint32_t env_bytes;
  uint32_t cwd_bytes;
  uint32_t label_bytes;
  uint32_t share_mounts;
  int32_t max_fd;
  int32_t sandbox_holder;
  uint64_t sandbox_caps;
};
enum PrepareFd { kPfStdin, kPfStdout, kPfStderr, kPfControl, kPfStatus, kPfNetns };
constexpr int kPrepareFdsMax = kPfNetns + 1;
constexpr size_t kPrepareRequestMax = 128 * 1024;
// The reply: the new process's pid, or -1 and the errno of clone(). The
// server's first message (pid 0) says it is serving.
struct PrepareReply {
  int32_t pid;
  int32_t err;
};

// The server's loop: one request at a time, single-threaded (so, unlike a
// fork in the many-threaded caller, it may allocate between requests).
[[noreturn]] void ServePrepareRequests(int sock) {
  // Received descriptors must not take 0..2 (the children dup2 onto them).
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) _exit(1);
  }
  // Only the caller ends it (by closing the socket); the children reset
  // every signal's disposition before they exec.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE}) signal(sig, SIG_IGN);
  CloseAllBut(sock, -1, DescriptorBound());
  std::vector<char> request(kPrepareRequestMax);
  std::vector<char> argv_buffer(PosixProcessLauncher::kMaxPreparedArgvBytes);
  PrepareReply hello{0, 0};
  if (send(sock, &hello, sizeof(hello), MSG_NOSIGNAL) != sizeof(hello)) _exit(0);
  for (;;) {
    iovec iov{request.data(), request.size()};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kPrepareFdsMax)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0);  // the caller is gone
    int fds[kPrepareFdsMax];
    int nfds = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
         c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        if (nfds < kPrepareFdsMax) {
          fds[nfds++] = fd;
        } else {
          close(fd);
        }
      }
    }
    PrepareReply reply{-1, EINVAL};
    PrepareRequestHeader h;
    const size_t got = static_cast<size_t>(n);
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 && got >= sizeof(h) &&
        nfds >= kPfNetns) {
      memcpy(&h, request.data(), sizeof(h));
      const size_t body = size_t{h.env_bytes} + h.cwd_bytes + h.label_bytes;
      if (body == got - sizeof(h)) {
        const char* at = request.data() + sizeof(h);
        ChildPlan plan;
        for (const char* end = at + h.env_bytes; at < end;) {
          const char* nul = static_cast<const char*>(memchr(at, '\0', end - at));
          if (nul == nullptr) nul = end;
          plan.env_storage.emplace_back(at, nul);
          at = nul + 1;
        }
        for (std::string& e : plan.env_storage) plan.envp.push_back(e.data());
        plan.envp.push_back(nullptr);
        plan.cwd.assign(at, h.cwd_bytes);
        at += h.cwd_bytes;
        plan.netns_label.assign(at, h.label_bytes);
        plan.share_mounts = h.share_mounts != 0;
        SetSandbox(h.sandbox_holder, h.sandbox_caps, &plan);
        plan.max_fd = h.max_fd;
        plan.argv.assign(PosixProcessLauncher::kMaxPreparedArgs + 1, nullptr);
        plan.stdin_fd = fds[kPfStdin];
        plan.stdout_fd = fds[kPfStdout];
        plan.stderr_fd = fds[kPfStderr];
        plan.netns_fd = nfds > kPfNetns ? fds[kPfNetns] : -1;
        // fork() with CLONE_PARENT: the new process is the caller's child.
        // (All other arguments zero, so their order does not matter.)
        const long pid =
            syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0L, 0L, 0L, 0L);
        if (pid == 0) {
          RunPreparedChild(&plan, argv_buffer.data(), fds[kPfStatus],
                           fds[kPfControl]);
        }
        reply = pid > 0 ? PrepareReply{static_cast<int32_t>(pid), 0}
                        : PrepareReply{-1, errno};
      }
    }
    for (int i = 0; i < nfds; ++i) close(fds[i]);
    if (send(sock, &reply, sizeof(reply), MSG_NOSIGNAL) != sizeof(reply)) {
      _exit(0);
    }
  }
}

// In the program exec'd as the server, serves before main() and never
// returns; elsewhere does nothing.
bool ServeIfPrepareServer() {
  const char* fd = getenv(kPrepareServerEnv);
  if (fd == nullptr) return false;
  char* end = nullptr;
  const long sock = strtol(fd, &end, 10);
  if (end == fd || *end != '\0' || sock < 3) _exit(1);
  ServePrepareRequests(static_cast<int>(sock));
}
[[maybe_unused]] const bool kServedAsPrepareServer = ServeIfPrepareServer();

// The caller's side: starts the server on first use, sends requests one at
// a time. Process-wide (the server is one per program), thread-safe.
class PrepareServerClient {
 public:
  static PrepareServerClient& Get() {
    static auto* client = new PrepareServerClient();  // never destroyed
    return *client;
  }

  // A new prepared process made by the server from `plan` (env, cwd,
  // netns label, share_mounts, max_fd) with `fds` (kPrepareFd order; netns
  // may be -1). UNAVAILABLE when there is no server (the caller then forks
  // itself); other errors are clone()'s.
  absl::Status Start() {
    absl::MutexLock lock(&mu_);
    return sock_.valid() ? absl::OkStatus() : StartLocked();
  }

  absl::StatusOr<pid_t> Create(const ChildPlan& plan,
                               const int (&fds)[kPrepareFdsMax],
                               absl::string_view context) {
    std::string body;
    for (const std::string& e : plan.env_storage) {
      body.append(e);
      body.push_back('\0');
    }
    PrepareRequestHeader h{};
    h.env_bytes = static_cast<uint32_t>(body.size());
    h.cwd_bytes = static_cast<uint32_t>(plan.cwd.size());
    h.label_bytes = static_cast<uint32_t>(plan.netns_label.size());
    h.share_mounts = plan.share_mounts ? 1 : 0;
    h.max_fd = plan.max_fd;
    h.sandbox_holder = plan.sandbox_holder;
    h.sandbox_caps = plan.sandbox_caps;
    body.append(plan.cwd).append(plan.netns_label);
    body.insert(0, reinterpret_cast<const char*>(&h), sizeof(h));
    if (body.size() > kPrepareRequestMax) {
      return absl::UnavailableError("request too large for the server");
    }
    absl::MutexLock lock(&mu_);
    // A server that died since the last request is replaced at once (the
    // request never reached it).
    for (int attempt = 0;; ++attempt) {
      if (!sock_.valid()) EMU_RETURN_IF_ERROR(StartLocked());
      absl::StatusOr<pid_t> pid = SendLocked(body, fds, context);
      if (pid.ok() || !absl::IsAborted(pid.status())) return pid;
      LoseServerLocked();
      if (attempt > 0) return absl::UnavailableError("no prepare server");
    }
  }

 private:
  // One request: ABORTED when it could not be sent (no server there).
  absl::StatusOr<pid_t> SendLocked(std::string& body,
                                   const int (&fds)[kPrepareFdsMax],
                                   absl::string_view context)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int nfds = fds[kPfNetns] >= 0 ? kPrepareFdsMax : kPfNetns;
    iovec iov{body.data(), body.size()};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kPrepareFdsMax)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    ssize_t sent;
    do {
      sent = sendmsg(sock_.get(), &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent != static_cast<ssize_t>(body.size())) {
      return absl::AbortedError("the prepare server is gone");
    }
    PrepareReply reply;
    if (!ReceiveLocked(&reply)) {
      LoseServerLocked();
      return absl::UnavailableError("the prepare server did not answer");
    }
    if (reply.pid <= 0) {
      return emu::ErrnoToStatus(reply.err, absl::StrCat(context, ": clone"));
    }
    return static_cast<pid_t>(reply.pid);
  }

  // How long a server may take to say it serves, or to answer a request.
  static constexpr int kAnswerMs = 10000;
  // Starts after which Prepare forks in the caller for good.
  static constexpr int kMaxStarts = 3;

  absl::Status StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (starts_ >= kMaxStarts) {
      return absl::UnavailableError("no prepare server");
    }
    ++starts_;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      return absl::UnavailableError("socketpair");
    }
    Fd ours(sv[0]), theirs(sv[1]);
    // The server finds its end as descriptor 3.
    constexpr int kServerFd = 3;
    if (theirs.get() == kServerFd) {
      theirs = Fd(fcntl(theirs.get(), F_DUPFD_CLOEXEC, kServerFd + 1));
      if (!theirs.valid()) return absl::UnavailableError("dup");
    }
    std::vector<std::string> env_storage;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (absl::string_view(*e).substr(0, sizeof(kPrepareServerEnv)) ==
          absl::StrCat(kPrepareServerEnv, "=")) {
        continue;
      }
      env_storage.emplace_back(*e);
    }
    env_storage.push_back(absl::StrCat(kPrepareServerEnv, "=", kServerFd));
    std::vector<char*> envp;
    for (std::string& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string name = kPrepareServerName;
    char* argv[] = {name.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, theirs.get(), kServerFd);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    const int err = posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv,
                                envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (err != 0) return absl::UnavailableError("spawn");
    pid_ = pid;
    sock_ = std::move(ours);
    PrepareReply hello;
    if (!ReceiveLocked(&hello) || hello.pid != 0) {
      LoseServerLocked();
      return absl::UnavailableError("the prepare server did not start");
    }
    return absl::OkStatus();
  }

  bool ReceiveLocked(PrepareReply* reply) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    pollfd p{sock_.get(), POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, kAnswerMs);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) return false;
    ssize_t n;
    do {
      n = recv(sock_.get(), reply, sizeof(*reply), 0);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof(*reply));
  }

  // The server died or hangs: end it, reap it (it is our child); the next
  // request starts another.
  void LoseServerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    sock_.Reset();
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }

  absl::Mutex mu_;
  Fd sock_ ABSL_GUARDED_BY(mu_);
  pid_t pid_ ABSL_GUARDED_BY(mu_) = -1;
  int starts_ ABSL_GUARDED_BY(mu_) = 0;
};

class PosixPreparedProcess : public PreparedProcess {
 public:
  ~PosixPreparedProcess() override {
    if (!ran_ && pid_ > 0) {
      control.Reset();
      KillGroupAndReap(pid_);
    }
  }
  pid_t pid() const override { return pid_; }

  absl::StatusOr<ProcessResult> Run(const ProcessSpec& command) override {
    if (ran_) {
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": the prepared process already ran"));
    }
    const std::string run_context =
        command.argv.empty()
            ? context
            : absl::StrCat("run ", command.argv[0], " (", context, ")");
    EMU_RETURN_IF_ERROR(CheckCommand(command, run_context, "run"));
    if (!command.stdin_data.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          run_context, ": a prepared process reads no stdin_data"));
    }
    std::string bytes;
    for (const std::string& a : command.argv) {
      if (a.find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat(run_context, ": an argument holds a NUL byte"));
      }
      bytes.append(a);
      bytes.push_back('\0');
    }
    if (command.argv.size() > PosixProcessLauncher::kMaxPreparedArgs ||
        bytes.size() > PosixProcessLauncher::kMaxPreparedArgvBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          run_context, ": argv too long for a prepared process (",
          command.argv.size(), " arguments, ", bytes.size(), " bytes)"));
    }
    ran_ = true;
    PreparedCommandHeader h{};
    if (command.start_at != absl::InfinitePast()) {
      const timespec ts = absl::ToTimespec(command.start_at);
      h.has_start_at = 1;
      h.start_sec = ts.tv_sec;
      h.start_nsec = ts.tv_nsec;
    }
    h.argc = static_cast<uint32_t>(command.argv.size());
    h.bytes = static_cast<uint32_t>(bytes.size());
    bytes.insert(0, reinterpret_cast<const char*>(&h), sizeof(h));
    const absl::Time before = absl::Now();
    const auto steady_before = SteadyClock::now();
    for (size_t off = 0; off < bytes.size();) {
      ssize_t n = WriteWithoutSigpipe(control.get(), bytes.data() + off,
                                      bytes.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int err = errno;
        KillGroupAndReap(pid_);
        return emu::ErrnoToStatus(
            err, absl::StrCat(run_context, ": hand the command over"));
      }
      off += static_cast<size_t>(n);
    }
    control.Reset();
    Started started = ReadStarted(status.get(), pid_);
    status.Reset();
    return Supervise(command, run_context, started, &io, before,
                     steady_before);
  }

  ChildPlan plan;
  std::vector<char> argv_buffer;
  Fd control;  // parent's end of the command pipe
  Fd status;   // parent's end of the exec status pipe
  ChildIo io;  // parent's ends of stdout and stderr
  std::string context;
  pid_t pid_ = -1;
  bool ran_ = false;
};

}  // namespace

namespace {

// ProcessLauncher::Prepare's default: the process is created by Run.
class DeferredProcess : public PreparedProcess {
 public:
  DeferredProcess(ProcessLauncher* launcher, ProcessSpec where)
      : launcher_(launcher), where_(std::move(where)) {}
  pid_t pid() const override { return -1; }
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& command) override {
    if (ran_) {
      return absl::FailedPreconditionError("the prepared process already ran");
    }
    ran_ = true;
    ProcessSpec spec = command;
    spec.netns = where_.netns;
    spec.share_mounts = where_.share_mounts;
    spec.sandbox_holder = where_.sandbox_holder;
    spec.sandbox_caps = where_.sandbox_caps;
    spec.cwd = where_.cwd;
    spec.extra_env = where_.extra_env;
    return launcher_->Run(spec);
  }

 private:
  ProcessLauncher* const launcher_;
  const ProcessSpec where_;
  bool ran_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PreparedProcess>> ProcessLauncher::Prepare(
    const ProcessSpec& where) {
  return std::make_unique<DeferredProcess>(this, where);
}

absl::StatusOr<ProcessResult> PosixProcessLauncher::Run(
    const ProcessSpec& spec) {
  const std::string context =
      spec.argv.empty() || spec.argv[0].empty() ? "" : Context("run", spec);
  EMU_RETURN_IF_ERROR(CheckCommand(spec, context, "run"));
  ChildPlan plan;
  EMU_RETURN_IF_ERROR(Annotate(FillPlan(spec, &plan), context));
  EMU_ASSIGN_OR_RETURN(ChildIo io, OpenChildIo(spec, context));
  plan.netns_fd = io.netns_fd.get();
  plan.stdin_fd = io.in_r.get();
  plan.stdout_fd = io.out_w.get();
  plan.stderr_fd = io.err_w.get();

  const absl::Time before = absl::Now();
  const auto steady_before = SteadyClock::now();
  EMU_ASSIGN_OR_RETURN(Started started, StartChild(plan, context));
  // The child's ends are the child's now.
  io.in_r.Reset();
  io.out_w.Reset();
  io.err_w.Reset();
  io.netns_fd.Reset();
  return Supervise(spec, context, started, &io, before, steady_before);
}

absl::StatusOr<std::unique_ptr<PreparedProcess>> PosixProcessLauncher::Prepare(
    const ProcessSpec& where) {
  std::string context = "prepare a process";
  if (!where.netns.empty()) absl::StrAppend(&context, " in netns ", where.netns);
  ProcessSpec place = where;
  place.argv.clear();
  place.stdin_data.clear();
  auto proc = std::make_unique<PosixPreparedProcess>();
  ChildPlan& plan = proc->plan;
  EMU_RETURN_IF_ERROR(Annotate(FillPlan(place, &plan), context));
  // Room for the argv, allocated before fork: the child may not allocate.
  plan.argv.assign(kMaxPreparedArgs + 1, nullptr);
  proc->argv_buffer.assign(kMaxPreparedArgvBytes, '\0');
  EMU_ASSIGN_OR_RETURN(ChildIo io, OpenChildIo(place, context));
  plan.netns_fd = io.netns_fd.get();
  plan.stdin_fd = io.in_r.get();
  plan.stdout_fd = io.out_w.get();
  plan.stderr_fd = io.err_w.get();
  Fd control_r, err_w;
  EMU_RETURN_IF_ERROR(MakePipe(&control_r, &proc->control,
                               absl::StrCat(context, ": command pipe")));
  EMU_RETURN_IF_ERROR(MakePipe(&proc->status, &err_w,
                               absl::StrCat(context, ": exec status pipe")));
  // Made by the prepare server (see above), or forked here without one.
  const int fds[kPrepareFdsMax] = {io.in_r.get(),     io.out_w.get(),
                                   io.err_w.get(),    control_r.get(),
                                   err_w.get(),       io.netns_fd.get()};
  absl::StatusOr<pid_t> served =
      PrepareServerClient::Get().Create(plan, fds, context);
  pid_t pid;
  if (served.ok()) {
    pid = *served;
  } else if (!absl::IsUnavailable(served.status())) {
    return served.status();
  } else {
    pid = fork();
    if (pid < 0) {
      return emu::ErrnoToStatus(errno, absl::StrCat(context, ": fork"));
    }
    if (pid == 0) {
      RunPreparedChild(&plan, proc->argv_buffer.data(), err_w.get(),
                       control_r.get());
    }
  }
  setpgid(pid, pid);
  proc->pid_ = pid;
  proc->context = context;
  err_w.Reset();
  control_r.Reset();
  io.in_r.Reset();
  io.out_w.Reset();
  io.err_w.Reset();
  io.netns_fd.Reset();
  proc->io = std::move(io);
  // The child says it is ready, or why it is not.
  ChildError e;
  ssize_t n;
  do {
    n = read(proc->status.get(), &e, sizeof(e));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(e)) && e.stage == kReadyStage) {
    return proc;
  }
  proc->ran_ = true;
  KillGroupAndReap(pid);
  if (n == static_cast<ssize_t>(sizeof(e))) {
    return emu::ErrnoToStatus(
        e.err, absl::StrCat(context, ": ",
                            StageName(static_cast<ChildStage>(e.stage))));
  }
  return absl::InternalError(
      absl::StrCat(context, ": the process ended before it was ready"));
}

absl::Status PosixProcessLauncher::StartPrepareServer() {
  return PrepareServerClient::Get().Start();
}

absl::StatusOr<pid_t> PosixProcessLauncher::Spawn(const ProcessSpec& spec,
                                                  const std::string& log_path) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return absl::InvalidArgumentError("spawn: empty argv");
  }
  const std::string context = Context("spawn", spec);
  ChildPlan plan;
  EMU_RETURN_IF_ERROR(Annotate(FillPlan(spec, &plan), context));
  Fd netns_fd;
  if (!spec.netns.empty()) {
    auto fd = OpenNetns(spec.netns);
    if (!fd.ok()) return Annotate(fd.status(), context);
    netns_fd = *std::move(fd);
  }
  EMU_ASSIGN_OR_RETURN(Fd null_in,
                       AboveStdio(open("/dev/null", O_RDONLY | O_CLOEXEC),
                                  absl::StrCat(context, ": open /dev/null")));
  EMU_ASSIGN_OR_RETURN(
      Fd log, AboveStdio(open(log_path.c_str(),
                              O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644),
                         absl::StrCat(context, ": open log ", log_path)));
  plan.netns_fd = netns_fd.get();
  plan.stdin_fd = null_in.get();
  plan.stdout_fd = log.get();
  plan.stderr_fd = log.get();
  plan.new_session = true;

  EMU_ASSIGN_OR_RETURN(Started started, StartChild(plan, context));
  if (started.error.has_value()) {
    auto stage = static_cast<ChildStage>(started.error->stage);
    return emu::ErrnoToStatus(started.error->err,
                              absl::StrCat(context, ": ", StageName(stage)));
  }
  return started.pid;
}

bool PosixProcessLauncher::IsRunning(pid_t pid) {
  if (pid <= 0) return false;
  int st;
  pid_t r = waitpid(pid, &st, WNOHANG);
  if (r == pid) return false;  // it had exited; reaped now
  if (r == 0) return true;     // our child, still running
  return AliveInProc(pid);     // not our child (ECHILD): ask /proc
}

absl::Status PosixProcessLauncher::Terminate(pid_t pid, absl::Duration grace) {
  if (pid <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("terminate pid ", pid, ": not a process id"));
  }
  auto wait_gone = [&](absl::Duration limit) {
    const auto until = SteadyClock::now() + absl::ToChronoNanoseconds(limit);
    for (;;) {
      if (!IsRunning(pid)) return true;
      if (SteadyClock::now() >= until) return false;
      usleep(10 * 1000);
    }
  };
  if (!IsRunning(pid)) return absl::OkStatus();
  kill(-pid, SIGTERM);
  kill(pid, SIGTERM);
  if (wait_gone(std::max(grace, absl::ZeroDuration()))) {
    return absl::OkStatus();
  }
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
  if (wait_gone(absl::Seconds(5))) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("terminate pid ", pid, ": still running 5s after SIGKILL"));
}

}  // namespace emu
