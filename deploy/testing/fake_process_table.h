// A ProcessTable for unit tests: the processes are whatever the test puts in.
#ifndef EMU_DEPLOY_TESTING_FAKE_PROCESS_TABLE_H_
#define EMU_DEPLOY_TESTING_FAKE_PROCESS_TABLE_H_

#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "deploy/process_table.h"

namespace emu::deploy {

// Thread-safe.
class FakeProcessTable : public ProcessTable {
 public:
  void Set(pid_t pid, ProcessIdentity identity) {
    absl::MutexLock lock(&mu_);
    processes_[pid] = std::move(identity);
  }
  void Remove(pid_t pid) {
    absl::MutexLock lock(&mu_);
    processes_.erase(pid);
  }
  std::optional<ProcessIdentity> Lookup(pid_t pid) override {
    absl::MutexLock lock(&mu_);
    auto it = processes_.find(pid);
    if (it == processes_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<pid_t> List() override {
    absl::MutexLock lock(&mu_);
    std::vector<pid_t> pids;
    for (const auto& [pid, identity] : processes_) pids.push_back(pid);
    return pids;
  }

 private:
  absl::Mutex mu_;
  std::map<pid_t, ProcessIdentity> processes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_TESTING_FAKE_PROCESS_TABLE_H_
