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

emu::v1::RunResult RunProgress::SoFar() const {
  absl::MutexLock lock(&mu_);
  emu::v1::RunResult run;
  for (const auto& e : events_) {
    switch (e.kind()) {
      case emu::v1::ExperimentEvent::RUN_STARTED:
        run = e.run();
        break;
      case emu::v1::ExperimentEvent::TASK_ENDED:
        *run.add_tasks() = e.task();
        break;
      case emu::v1::ExperimentEvent::RUN_ENDED:
        return e.run();
      default:
        break;
    }
  }
  if (run.state() == emu::v1::RUN_STATE_UNSPECIFIED) {
    run.set_state(emu::v1::RUN_RUNNING);
  }
  return run;
}

}  // namespace emu::controller::experiment
