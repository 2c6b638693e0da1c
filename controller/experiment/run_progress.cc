#include "controller/experiment/run_progress.h"

#include <utility>

namespace emu::controller::experiment {

void RunProgress::Publish(const emu::v1::ExperimentEvent& event) {
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  events_.push_back(event);
  for (const auto& [id, watcher] : watchers_) watcher(event);
  if (event.kind() == emu::v1::ExperimentEvent::RUN_ENDED) {
    ended_ = true;
    watchers_.clear();
  }
}

uint64_t RunProgress::Watch(Watcher watcher) {
  absl::MutexLock lock(&mu_);
  for (const auto& e : events_) watcher(e);
  const uint64_t id = next_id_++;
  if (!ended_) watchers_.emplace(id, std::move(watcher));
  return id;
}

void RunProgress::Unwatch(uint64_t id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(id);
}

bool RunProgress::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

}  // namespace emu::controller::experiment
