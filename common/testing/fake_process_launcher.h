// A ProcessLauncher for unit tests: starts nothing, records every call and
// answers Run with scripted results.
#ifndef EMU_COMMON_TESTING_FAKE_PROCESS_LAUNCHER_H_
#define EMU_COMMON_TESTING_FAKE_PROCESS_LAUNCHER_H_

#include <sys/types.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/process_launcher.h"

namespace emu {

// Thread-safe. Run answers, in this order of preference: the next queued
// result, the handler, or "exit 0, no output". Spawn hands out fake pids
// (never real processes, so nothing is ever signalled) that stay "running"
// until Terminate or MarkExited.
class FakeProcessLauncher : public ProcessLauncher {
 public:
  using Handler =
      std::function<absl::StatusOr<ProcessResult>(const ProcessSpec&)>;

  struct SpawnCall {
    ProcessSpec spec;
    std::string log_path;
    pid_t pid;
  };

  // A result with the given exit code and output, for QueueResult/handlers.
  static ProcessResult Exited(int exit_code, std::string stdout_data = "",
                              std::string stderr_data = "");

  void QueueResult(absl::StatusOr<ProcessResult> result);
  void SetHandler(Handler handler);
  // The next Spawn fails with `status` (and records nothing).
  void FailNextSpawn(absl::Status status);
  // Simulates a spawned daemon dying on its own.
  void MarkExited(pid_t pid);

  std::vector<ProcessSpec> runs() const;
  std::vector<SpawnCall> spawns() const;
  std::vector<pid_t> terminated() const;

  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) override;
  absl::StatusOr<pid_t> Spawn(const ProcessSpec& spec,
                              const std::string& log_path) override;
  bool IsRunning(pid_t pid) override;
  absl::Status Terminate(pid_t pid, absl::Duration grace) override;

 private:
  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<ProcessResult>> queued_ ABSL_GUARDED_BY(mu_);
  Handler handler_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Status> spawn_failures_ ABSL_GUARDED_BY(mu_);
  std::vector<ProcessSpec> runs_ ABSL_GUARDED_BY(mu_);
  std::vector<SpawnCall> spawns_ ABSL_GUARDED_BY(mu_);
  std::vector<pid_t> terminated_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<pid_t> running_ ABSL_GUARDED_BY(mu_);
  pid_t next_pid_ ABSL_GUARDED_BY(mu_) = 900001;
};

}  // namespace emu

#endif  // EMU_COMMON_TESTING_FAKE_PROCESS_LAUNCHER_H_
