#include "agent/barrier/executor_pool.h"

#include <utility>

#include "common/log.h"

namespace emu::agent::barrier {

void ExecutorPool::Warm(const std::vector<std::string>& nodes) {
  absl::MutexLock lock(&mu_);
  // One each: the further ones come with Refill, after a command exec'd,
  // so that no fork lands on the first Task's instant.
  for (const std::string& node : nodes) {
    Slot& slot = slots_[node];
    if (slot.ready.empty() && slot.preparing == 0) TopUpLocked(node);
  }
}

void ExecutorPool::Refill(const std::string& node) {
  absl::MutexLock lock(&mu_);
  slots_[node].refilling = true;
  TopUpLocked(node);
}

void ExecutorPool::TopUpLocked(const std::string& node) {
  Slot& slot = slots_[node];
  // One preparation at a time per node (the next starts when it is done):
  // a node's forks never pile up on a busy host.
  if (shut_down_ || slot.preparing > 0 ||
      static_cast<int>(slot.ready.size()) >= depth_) {
    return;
  }
  ++slot.preparing;
  threads_->Start([self = shared_from_this(), node] { self->PrepareOne(node); });
}

void ExecutorPool::PrepareOne(const std::string& node) {
  absl::StatusOr<std::unique_ptr<PreparedProcess>> p = prepare_(node);
  std::unique_ptr<PreparedProcess> drop;  // ended outside the lock
  absl::MutexLock lock(&mu_);
  Slot& slot = slots_[node];
  --slot.preparing;
  if (!p.ok()) {
    ++stats_.failed;
    Log("barrier: no executor ready for node ", node, ": ",
        p.status().ToString());
    return;
  }
  if (*p == nullptr) return;
  ++stats_.prepared;
  if (shut_down_) {
    drop = *std::move(p);
    return;
  }
  slot.ready.push_back(*std::move(p));
  if (slot.refilling) TopUpLocked(node);
}

std::unique_ptr<PreparedProcess> ExecutorPool::Take(const std::string& node,
                                                    absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(node);
  if (it != slots_.end() && it->second.ready.empty() &&
      it->second.preparing > 0) {
    Slot* slot = &it->second;
    auto done = [slot]() { return !slot->ready.empty() || slot->preparing == 0; };
    mu_.AwaitWithTimeout(absl::Condition(&done), wait);
  }
  if (it == slots_.end() || it->second.ready.empty()) {
    ++stats_.missed;
    return nullptr;
  }
  ++stats_.taken;
  std::unique_ptr<PreparedProcess> out = std::move(it->second.ready.front());
  it->second.ready.pop_front();
  return out;
}

bool ExecutorPool::AwaitWarm(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [node, slot] : slots_) {
      if (slot.ready.empty() && slot.preparing > 0) return false;
    }
    return true;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), wait);
}

void ExecutorPool::Shutdown() {
  std::vector<std::unique_ptr<PreparedProcess>> drop;
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [node, slot] : slots_) {
    for (auto& p : slot.ready) drop.push_back(std::move(p));
    slot.ready.clear();
  }
}

ExecutorPool::Stats ExecutorPool::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace emu::agent::barrier
