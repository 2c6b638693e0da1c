#include "common/thread_set.h"

#include <utility>

namespace emu {

ThreadSet::~ThreadSet() { JoinAll(); }

void ThreadSet::Start(std::function<void()> fn) {
  Reap();
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  ++running_;
  // The new thread reports itself under mu_, which is held until it is in
  // threads_, so Reap never misses it.
  threads_.emplace(id, std::thread([this, id, fn = std::move(fn)] {
                     fn();
                     absl::MutexLock lock(&mu_);
                     --running_;
                     finished_.push_back(id);
                   }));
}

void ThreadSet::Reap() {
  std::vector<std::thread> done;
  {
    absl::MutexLock lock(&mu_);
    for (uint64_t id : finished_) {
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;  // JoinAll took it
      done.push_back(std::move(it->second));
      threads_.erase(it);
    }
    finished_.clear();
  }
  // Each has returned from its function: the joins are short.
  for (auto& t : done) t.join();
}

bool ThreadSet::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

void ThreadSet::JoinAll() {
  while (true) {
    std::map<uint64_t, std::thread> all;
    {
      absl::MutexLock lock(&mu_);
      if (threads_.empty()) return;
      all.swap(threads_);
      finished_.clear();
    }
    for (auto& [id, t] : all) t.join();
  }
}

int ThreadSet::running() {
  absl::MutexLock lock(&mu_);
  return running_;
}

}  // namespace emu
