#include "common/testing/fake_process_launcher.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace emu {

ProcessResult FakeProcessLauncher::Exited(int exit_code,
                                          std::string stdout_data,
                                          std::string stderr_data) {
  ProcessResult r;
  r.exit_code = exit_code;
  r.stdout_data = std::move(stdout_data);
  r.stderr_data = std::move(stderr_data);
  r.start = r.end = absl::Now();
  return r;
}

void FakeProcessLauncher::QueueResult(absl::StatusOr<ProcessResult> result) {
  absl::MutexLock lock(&mu_);
  queued_.push_back(std::move(result));
}

void FakeProcessLauncher::SetHandler(Handler handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

void FakeProcessLauncher::FailNextSpawn(absl::Status status) {
  absl::MutexLock lock(&mu_);
  spawn_failures_.push_back(std::move(status));
}

void FakeProcessLauncher::MarkExited(pid_t pid) {
  absl::MutexLock lock(&mu_);
  running_.erase(pid);
}

std::vector<ProcessSpec> FakeProcessLauncher::runs() const {
  absl::MutexLock lock(&mu_);
  return runs_;
}

std::vector<FakeProcessLauncher::SpawnCall> FakeProcessLauncher::spawns()
    const {
  absl::MutexLock lock(&mu_);
  return spawns_;
}

std::vector<pid_t> FakeProcessLauncher::terminated() const {
  absl::MutexLock lock(&mu_);
  return terminated_;
}

absl::StatusOr<ProcessResult> FakeProcessLauncher::Run(
    const ProcessSpec& spec) {
  Handler handler;
  {
    absl::MutexLock lock(&mu_);
    runs_.push_back(spec);
    if (!queued_.empty()) {
      absl::StatusOr<ProcessResult> r = std::move(queued_.front());
      queued_.pop_front();
      return r;
    }
    handler = handler_;
  }
  // Outside the lock: a handler may call back into this fake.
  if (handler) return handler(spec);
  return Exited(0);
}

absl::StatusOr<pid_t> FakeProcessLauncher::Spawn(const ProcessSpec& spec,
                                                 const std::string& log_path) {
  absl::MutexLock lock(&mu_);
  if (!spawn_failures_.empty()) {
    absl::Status s = std::move(spawn_failures_.front());
    spawn_failures_.erase(spawn_failures_.begin());
    return s;
  }
  pid_t pid = next_pid_++;
  spawns_.push_back({spec, log_path, pid});
  running_.insert(pid);
  return pid;
}

bool FakeProcessLauncher::IsRunning(pid_t pid) {
  absl::MutexLock lock(&mu_);
  return running_.contains(pid);
}

absl::Status FakeProcessLauncher::Terminate(pid_t pid, absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (pid <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("terminate pid ", pid, ": not a process id"));
  }
  terminated_.push_back(pid);
  running_.erase(pid);
  return absl::OkStatus();
}

}  // namespace emu
