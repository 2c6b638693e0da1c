// A SandboxHost for unit tests: no /proc, holders are what the test says.
#ifndef EMU_AGENT_NODE_TESTING_FAKE_SANDBOX_HOST_H_
#define EMU_AGENT_NODE_TESTING_FAKE_SANDBOX_HOST_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "agent/node/node_sandbox.h"

namespace emu::agent::node {

// Thread-safe. Every pid is a ready holder of any namespace unless the
// test says otherwise; FindHolders knows only holders added with Running.
class FakeSandboxHost : public SandboxHost {
 public:
  // A holder of `netns` that was running before (an agent restart).
  void Running(const std::string& netns, pid_t pid) {
    absl::MutexLock l(&mu_);
    running_[netns] = pid;
  }
  // `pid` never becomes ready.
  void NeverReady(pid_t pid) {
    absl::MutexLock l(&mu_);
    never_ready_.insert(pid);
  }
  // `pid` is no holder (any more).
  void Gone(pid_t pid) {
    absl::MutexLock l(&mu_);
    gone_.insert(pid);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second == pid) {
        running_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  int finds() const {
    absl::MutexLock l(&mu_);
    return finds_;
  }

  bool IsHolderOf(pid_t pid, const std::string&) override {
    absl::MutexLock l(&mu_);
    return !gone_.contains(pid);
  }
  absl::flat_hash_map<std::string, pid_t> FindHolders(
      const std::vector<std::string>& netns) override {
    absl::MutexLock l(&mu_);
    ++finds_;
    absl::flat_hash_map<std::string, pid_t> found;
    for (const std::string& ns : netns) {
      auto it = running_.find(ns);
      if (it != running_.end()) found[ns] = it->second;
    }
    return found;
  }
  bool IsReady(pid_t pid) override {
    absl::MutexLock l(&mu_);
    return !never_ready_.contains(pid);
  }

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, pid_t> running_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<pid_t> never_ready_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<pid_t> gone_ ABSL_GUARDED_BY(mu_);
  int finds_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace emu::agent::node

#endif  // EMU_AGENT_NODE_TESTING_FAKE_SANDBOX_HOST_H_
