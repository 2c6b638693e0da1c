#include "controller/lab/deploy_events.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace emu::controller::lab {

using emu::v1::DeployEvent;
using emu::v1::LabState;

DeployEvent MakeEvent(std::string host, std::string message, LabState state) {
  DeployEvent e;
  e.set_time_unix_us(absl::ToUnixMicros(absl::Now()));
  e.set_host(std::move(host));
  e.set_message(std::move(message));
  e.set_state(state);
  return e;
}

std::string AgentEventText(const emu::v1::ApplyLabEvent& e) {
  using E = emu::v1::ApplyLabEvent;
  const char* verb = "?";
  switch (e.kind()) {
    case E::NODE_CREATED:
    case E::LINK_CREATED:
      verb = "created";
      break;
    case E::NODE_CONFIGURED:
      verb = "configured";
      break;
    case E::LINK_SHAPED:
      verb = "shaped";
      break;
    case E::REMOVED:
      verb = "removed";
      break;
    case E::DONE:
      verb = "done:";
      break;
    default:
      break;
  }
  std::string text = absl::StrCat(verb, " ", e.object());
  if (!e.detail().empty()) absl::StrAppend(&text, " (", e.detail(), ")");
  return text;
}

std::function<void(const DeployEvent&)> Serialized(
    const std::function<void(const DeployEvent&)>& fn) {
  auto mu = std::make_shared<absl::Mutex>();
  return [mu, fn](const DeployEvent& e) {
    absl::MutexLock lock(mu.get());
    fn(e);
  };
}

}  // namespace emu::controller::lab
