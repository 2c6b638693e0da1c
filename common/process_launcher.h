// Starting other programs: run-and-wait commands (with captured output, a
// timeout and an optional network namespace) and detached daemons. The OS
// boundary for process spawning; tests use testing/fake_process_launcher.h.
#ifndef EMU_COMMON_PROCESS_LAUNCHER_H_
#define EMU_COMMON_PROCESS_LAUNCHER_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace emu {

// What to start. Fields a call does not use are ignored (Spawn ignores
// stdin_data, timeout and max_output_bytes).
struct ProcessSpec {
  // argv[0] is looked up on the caller's PATH when it has no '/'.
  std::vector<std::string> argv;
  // Network namespace: a name under /run/netns ("emu-lab1-r1"), or a path
  // when it contains a '/' ("/proc/123/ns/net"). Empty = the caller's.
  // Like `ip netns exec`, the process also gets a private mount namespace
  // whose /sys shows the namespace's own interfaces (see share_mounts).
  std::string netns;
  // With `netns` set: enter only the network namespace and keep the
  // caller's mount namespace. Daemons that create network namespaces
  // (emu-agent bind-mounts them under /run/netns) need this, or their
  // mounts would live and die in a private mount namespace no one else sees.
  bool share_mounts = false;
  // Run inside a node sandbox (agent/node/node_sandbox.h) as well: the pid
  // of the sandbox's holder, a process in this PID namespace whose mount
  // namespace and PID namespace for children the command joins after
  // `netns` (which must name the holder's network namespace; share_mounts
  // is then ignored). The process Run, Spawn and Prepare create is then a
  // small waiter outside the sandbox (its pid is the one reported, and the
  // leader of the process group the command shares) whose only child is
  // the command; it exits with the command's exit code (128+signal when a
  // signal ended it). 0 = no sandbox.
  pid_t sandbox_holder = 0;
  // With sandbox_holder: the capabilities the command may hold, bit i for
  // capability i (CAP_NET_ADMIN = 12); all others leave its bounding,
  // permitted, effective and inheritable sets before it execs.
  uint64_t sandbox_caps = 0;
  // Written to the command's stdin, which is then closed. Empty = /dev/null.
  std::string stdin_data;
  // Wall time after which the command's whole process group is killed with
  // SIGKILL. Must be positive; absl::InfiniteDuration() means no limit.
  absl::Duration timeout = absl::Seconds(60);
  // "KEY=VALUE" entries added to (or replacing those in) the caller's
  // environment. They do not change the PATH used to find argv[0].
  std::vector<std::string> extra_env;
  // Working directory; empty = the caller's.
  std::string cwd;
  // Per stream (stdout and stderr each): bytes kept; the rest is read and
  // dropped so the command never blocks on a full pipe.
  size_t max_output_bytes = 16 << 20;
  // Run only: called once with the command's pid (== its process group id)
  // right after it was created, before Run waits for it, so another thread
  // can end it early with kill(-pid, SIGKILL) (cancellation). Must not block.
  std::function<void(pid_t)> on_started;
  // Run only: when set, the command is created at once (fork, namespace)
  // but exec'd only at this wall-clock instant, so that commands started
  // on several hosts for one instant start together; ProcessResult::start
  // is then when it woke to exec. An instant in the past execs at once.
  // The wait is SCHED_FIFO where the caller may (root), so that a busy host
  // still wakes it at the instant; the command runs with SCHED_OTHER.
  absl::Time start_at = absl::InfinitePast();
};

struct ProcessResult {
  // The exit status, or 128+signal when the command was killed by a signal
  // (137 after a timeout). 127 when argv[0] could not be executed. -1 when
  // something else in the process reaped the command (see
  // PosixProcessLauncher).
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
  bool timed_out = false;
  // True when either stream exceeded ProcessSpec::max_output_bytes.
  bool output_truncated = false;
  absl::Time start;
  absl::Time end;
  // With ProcessSpec::start_at: how long after the instant the process was
  // ready to exec; zero when it was ready in time and waited for it.
  absl::Duration start_late = absl::ZeroDuration();
};

// A process created ahead of its command (ProcessLauncher::Prepare): forked,
// in its namespaces, its stdio pipes in place, waiting on a descriptor for
// the argv. Running it hands the argv over and execs it, so the command's
// start pays no fork, setns or mount namespace. One command per process.
// Thread-compatible. Destroying one that never ran ends its process.
class PreparedProcess {
 public:
  virtual ~PreparedProcess() = default;
  // The waiting process (== its process group), or -1 when this
  // implementation creates the process only in Run.
  virtual pid_t pid() const = 0;
  // Runs `command` in the prepared process as ProcessLauncher::Run would:
  // argv, timeout, max_output_bytes, start_at and on_started are taken from
  // `command`; netns, share_mounts, cwd and extra_env are the prepared
  // ones (ignored here); stdin is /dev/null (stdin_data must be empty).
  // With start_at, the argv is handed over at once and the process execs
  // at the instant. Call once; FAILED_PRECONDITION after that.
  virtual absl::StatusOr<ProcessResult> Run(const ProcessSpec& command) = 0;
};

// Starts programs. Implementations are thread-safe: any number of Run and
// Spawn calls may be in flight at once.
class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;

  // A process for a later Run in the place `where` names (netns,
  // share_mounts, cwd, extra_env; its argv is ignored). Returns once the
  // process waits for its command; errors as Run's (NOT_FOUND: no such
  // netns). This default creates nothing ahead: its PreparedProcess::Run is
  // this launcher's Run with `where`'s place.
  virtual absl::StatusOr<std::unique_ptr<PreparedProcess>> Prepare(
      const ProcessSpec& where);

  // Runs spec.argv, feeds it stdin_data, captures stdout and stderr, and
  // waits until it exits or spec.timeout passes (then kills its process
  // group and sets timed_out). A command that leaves background processes
  // holding its stdout/stderr does not block Run: once the command itself
  // has exited, Run drains what is readable for about 100 ms and returns
  // (those processes are not killed; they get SIGPIPE on their next write,
  // so start daemons with Spawn or redirect their output).
  //
  // A command that cannot be executed is not an error: exit_code 127 and
  // stderr "exec <argv0>: <reason>". Errors: INVALID_ARGUMENT (empty argv,
  // non-positive timeout), NOT_FOUND (no such netns), others when the
  // process cannot be created or moved into the namespace.
  virtual absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) = 0;

  // Starts spec.argv as a detached daemon: its own session and process group
  // (setsid, so pgid == pid), stdin /dev/null, stdout and stderr appended to
  // log_path (created 0644 if missing), inside spec.netns if set. Returns the
  // daemon's real pid (no double fork) so it can be ended by id later.
  //
  // The daemon stays a child of the calling process until that process
  // exits; when it dies it is a zombie until reaped, and kill(pid, 0) still
  // succeeds on a zombie. So do not rely on kill(pid, 0) or on waitpid:
  // use IsRunning and Terminate, which reap. Errors: NOT_FOUND when argv[0]
  // or the netns does not exist, errors naming log_path when it cannot be
  // opened.
  virtual absl::StatusOr<pid_t> Spawn(const ProcessSpec& spec,
                                      const std::string& log_path) = 0;

  // True while the process `pid` (from Spawn) exists and is not a zombie.
  // Reaps it when it has exited and is a child of this process.
  virtual bool IsRunning(pid_t pid) = 0;

  // Ends a daemon started by Spawn: SIGTERM to its process group, then
  // SIGKILL to the group when it is still there after `grace`; reaps it.
  // OK once the process is gone, also when it was gone already (idempotent).
  // Returns DEADLINE_EXCEEDED if it survives SIGKILL for a few seconds
  // (a process stuck in the kernel).
  virtual absl::Status Terminate(pid_t pid, absl::Duration grace) = 0;
};

// ProcessLauncher on fork/exec, pipes and poll(): one thread per Run, none
// per stream. Stateless, so thread-safe. The process must not reap children
// it did not start itself (no SIGCHLD=SIG_IGN, no waitpid(-1)), or Run loses
// its command's exit status.
class PosixProcessLauncher : public ProcessLauncher {
 public:
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) override;
  // Creates the process at once; it waits in read() on a pipe for its argv
  // (at most kMaxPreparedArgvBytes bytes, kMaxPreparedArgs elements). The
  // process is this program's child, but is created by the program's
  // prepare server, a small copy of the program (exec'd again from
  // /proc/self/exe as "emu-prepare-server", started on the first Prepare,
  // ending when this program does) that clones it with CLONE_PARENT: so its
  // creation and its exec copy and tear down the server's small address
  // space, not this program's (process_launcher.cc, "The prepare server").
  // Without a server (it cannot start, or died three times) it is forked
  // here.
  absl::StatusOr<std::unique_ptr<PreparedProcess>> Prepare(
      const ProcessSpec& where) override;
  static constexpr size_t kMaxPreparedArgvBytes = 256 * 1024;
  // Starts this program's prepare server now rather than on the first
  // Prepare, so that the first prepared process is not late by the server's
  // own start (an exec of the program: tens of ms on a loaded host).
  // UNAVAILABLE when it cannot start (Prepare then forks here).
  static absl::Status StartPrepareServer();
  static constexpr size_t kMaxPreparedArgs = 4096;
  absl::StatusOr<pid_t> Spawn(const ProcessSpec& spec,
                              const std::string& log_path) override;
  bool IsRunning(pid_t pid) override;
  absl::Status Terminate(pid_t pid, absl::Duration grace) override;
};

}  // namespace emu

#endif  // EMU_COMMON_PROCESS_LAUNCHER_H_
