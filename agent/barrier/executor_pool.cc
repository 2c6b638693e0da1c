#include "agent/barrier/executor_pool.h"

#include <utility>

#include "common/log.h"

namespace emu::agent::barrier {

void ExecutorPool::Warm(const std::vector<std::string>& nodes) {
  absl::MutexLock lock(&mu_);
  for (const std::string& node : nodes) {
    Slot& slot = slots_[node];
    if (slot.ready == nullptr && !slot.preparing) StartPreparingLocked(node);
  }
}

void ExecutorPool::Refill(const std::string& node) {
  absl::MutexLock lock(&mu_);
  Slot& slot = slots_[node];
  if (slot.ready == nullptr && !slot.preparing) StartPreparingLocked(node);
}

void ExecutorPool::StartPreparingLocked(const std::string& node) {
  if (shut_down_) return;
  slots_[node].preparing = true;
  threads_->Start([self = shared_from_this(), node] { self->PrepareOne(node); });
}

void ExecutorPool::PrepareOne(const std::string& node) {
  absl::StatusOr<std::unique_ptr<PreparedProcess>> p = prepare_(node);
  std::unique_ptr<PreparedProcess> drop;  // ended outside the lock
  absl::MutexLock lock(&mu_);
  Slot& slot = slots_[node];
  slot.preparing = false;
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
  slot.ready = *std::move(p);
}

std::unique_ptr<PreparedProcess> ExecutorPool::Take(const std::string& node,
                                                    absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  auto it = slots_.find(node);
  if (it != slots_.end() && it->second.ready == nullptr &&
      it->second.preparing) {
    Slot* slot = &it->second;
    auto done = [slot]() { return !slot->preparing; };
    mu_.AwaitWithTimeout(absl::Condition(&done), wait);
  }
  if (it == slots_.end() || it->second.ready == nullptr) {
    ++stats_.missed;
    return nullptr;
  }
  ++stats_.taken;
  return std::move(it->second.ready);
}

void ExecutorPool::Shutdown() {
  std::vector<std::unique_ptr<PreparedProcess>> drop;
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [node, slot] : slots_) {
    if (slot.ready != nullptr) drop.push_back(std::move(slot.ready));
  }
}

ExecutorPool::Stats ExecutorPool::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace emu::agent::barrier
