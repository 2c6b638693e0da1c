#include "controller/lab/deploy_events.h"

#include <algorithm>
#include <memory>
#include <utility>

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

HostProgress::HostProgress(
    std::string host, const emu::v1::ApplyLabRequest& share, LabState state,
    std::function<void(const DeployEvent&)> out)
    : host_(std::move(host)),
      state_(state),
      out_(std::move(out)),
      nodes_(share.nodes_size()),
      links_(share.links_size() + share.remote_links_size()),
      aggregate_(nodes_ + links_ > kEventsPerObjectUpTo),
      step_(std::max(1, (nodes_ + links_) / 20)) {}

void HostProgress::OnAgentEvent(const emu::v1::ApplyLabEvent& e) {
  using E = emu::v1::ApplyLabEvent;
  if (!aggregate_) {
    out_(MakeEvent(host_, AgentEventText(e), state_));
    return;
  }
  switch (e.kind()) {
    case E::NODE_CREATED:
      ++created_nodes_;
      break;
    case E::LINK_CREATED:
      ++created_links_;
      break;
    case E::NODE_CONFIGURED:
      ++configured_nodes_;
      break;
    case E::LINK_SHAPED:
      ++shaped_links_;
      break;
    case E::REMOVED:
      ++removed_;
      break;
    default:  // DONE and what a newer agent may send: as they come
      if (since_last_ > 0) out_(MakeEvent(host_, Summary(), state_));
      since_last_ = 0;
      out_(MakeEvent(host_, AgentEventText(e), state_));
      return;
  }
  if (++since_last_ >= step_) {
    since_last_ = 0;
    out_(MakeEvent(host_, Summary(), state_));
  }
}

std::string HostProgress::Summary() const {
  std::string text =
      absl::StrCat("created ", created_nodes_, " of ", nodes_, " nodes, ",
                   created_links_, " of ", links_, " links; configured ",
                   configured_nodes_, " nodes; shaped ", shaped_links_,
                   " links");
  if (removed_ > 0) absl::StrAppend(&text, "; removed ", removed_, " stale");
  return text;
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
